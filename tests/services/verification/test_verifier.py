"""The verifier's dispatch: a format without a checker is unsupported."""

from __future__ import annotations

from pathlib import Path

from certdist.services.verification import Status, Verifier
from certdist.signing.contexts import ContextLoader
from certdist.wiring import Services


def test_formats_without_a_checker_are_unsupported(services: Services, testdata: Path) -> None:
    bare = Verifier(
        services.verifier.trust, services.database.certificates(), services.clock, ContextLoader()
    )
    for data in (
        "HC1:NCFOXN%TS3DH",
        (testdata / "shc" / "examples" / "example-00-d-jws.txt").read_text(),
    ):
        outcome = bare.check(data)
        assert (outcome.status, outcome.code) == (Status.INVALID, "unsupported")
