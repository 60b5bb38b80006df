"""The facility desk: staff sign-in and sessions, finding a beneficiary and printing one
certificate, and batch printing (a facility-day or a list of ids) as durable jobs."""

from certdist.services.facility.desk import FacilityDesk, KindNotHeld
from certdist.services.facility.printing import (
    BatchFormat,
    PrintJobRunner,
    PrintService,
    parse_selection,
    read_codes_file,
)
from certdist.services.facility.staff_sessions import StaffSession
from certdist.services.facility.wiring import Facility, wire

__all__ = [
    "BatchFormat",
    "Facility",
    "FacilityDesk",
    "KindNotHeld",
    "PrintJobRunner",
    "PrintService",
    "StaffSession",
    "parse_selection",
    "read_codes_file",
    "wire",
]
