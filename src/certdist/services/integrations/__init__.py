"""Integrations with other systems: DigiLocker's pull issuer API and the partner API that
health apps call for a citizen's certificate."""

from certdist.services.integrations.digilocker import DigilockerService
from certdist.services.integrations.partner import PartnerCertificate, PartnerService
from certdist.services.integrations.wiring import Integrations, wire

__all__ = ["DigilockerService", "Integrations", "PartnerCertificate", "PartnerService", "wire"]
