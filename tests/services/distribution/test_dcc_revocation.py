"""Our EU DCC revocation batches follow corrections as well as revocations, list every DSC,
and are what the verifier consults for our DCCs."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from certdist.domain.requests import CertificationRequest
from certdist.formats import dcc_revocation as revocation
from certdist.formats.dcc_revocation import DccHashes
from certdist.formats.eu_dcc import uvci
from certdist.services.common.clock import FixedClock
from certdist.services.distribution import DccRevocationBatches
from certdist.services.verification import Status
from certdist.storage.repository import WithdrawnCertificate
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.request_bodies import vaccination_request_body

DAY = timedelta(days=1)


def hc1_of(services: Services) -> str:
    bundle = services.distribution.certificates.bundle("BEN0001")
    return services.distribution.wallet.issuers.dcc.hc1(bundle)


def test_a_correction_puts_the_old_certificate_in_the_batches(services: Services) -> None:
    issue_signed(services)
    old_id = services.distribution.certificates.bundle("BEN0001").latest.certificate_id
    old = hc1_of(services)
    batches = services.distribution.dcc_revocations
    assert batches.batches() == []
    body = vaccination_request_body(name="Bhaya Mitra Kumar")
    services.issuance.certificates.correct([CertificationRequest.model_validate(body)])

    (signed,) = batches.batches()
    uci = uvci(services.settings.wallet.dcc_country, old_id)
    assert list(revocation.listed_hashes(signed.document)) == [revocation.uci_hash(uci)]
    assert batches.withdrawn(DccHashes.of(uci=uci, country=None)) == WithdrawnCertificate(
        old_id, False
    )
    outcome = services.verifier.check(old)
    assert outcome.status is Status.REVOKED
    assert "corrected" in outcome.reason
    assert services.verifier.check(hc1_of(services)).status is Status.VALID


class ListsEverything:
    def withdrawn(self, hashes: DccHashes) -> WithdrawnCertificate | None:
        assert revocation.HashType.UCI in hashes.by_type
        return WithdrawnCertificate("listed", True)


def test_the_verifier_reads_the_batches_for_our_dccs(services: Services) -> None:
    """A DCC our batches list is revoked even when the certificate records say nothing."""
    issue_signed(services)
    hc1 = hc1_of(services)
    assert services.verifier.check(hc1).status is Status.VALID
    reading = dataclasses.replace(services.verifier, own_dccs=ListsEverything())
    assert reading.check(hc1).status is Status.REVOKED


def test_every_process_lists_the_same_batch_ids(services: Services) -> None:
    """Each worker builds and signs its own copy, at its own time: a batchId one lists,
    another serves."""
    issue_signed(services)
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    later = FixedClock(services.clock.now() + timedelta(days=1, hours=3))
    other_process = DccRevocationBatches(
        services.database.certificates(),
        services.distribution.issuers.document_signers,
        later,
        country=services.settings.wallet.dcc_country,
        validity=timedelta(days=services.settings.wallet.dcc_validity_days),
    )
    ours = services.distribution.dcc_revocations.batches()
    theirs = other_process.batches()
    assert [b.batch_id for b in ours] == [b.batch_id for b in theirs]
    assert ours[0].document["entries"] == theirs[0].document["entries"]
    # Expiry: the end of the building day plus the DCC validity, past every DCC listed.
    validity = timedelta(days=services.settings.wallet.dcc_validity_days)
    expires = datetime.fromisoformat(ours[0].document["expires"])
    assert services.clock.now() + validity < expires <= services.clock.now() + validity + DAY
    assert other_process.batch(ours[0].batch_id).document["expires"] > ours[0].document["expires"]
