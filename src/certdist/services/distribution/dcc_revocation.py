"""Our EU DCC revocation batches: the ``UCI`` hashes of the vaccination and lab-test
certificates that were revoked or superseded by a correction, one set of batches per DSC.

Only ``UCI`` can be published: an EU DCC is signed when it is asked for (its ``iat`` is the
day it was rendered), so a certificate has as many signatures as days it was fetched and
none is stored, which rules out ``SIGNATURE``; our UCIs already hold the country code, so
``COUNTRYCODEUCI`` would add nothing. A certificate may have been rendered under any of our
DSCs, so every DSC, active or retired, has the same entries.

The batches follow the withdrawals at once (the list behind them is re-read whenever the
count of withdrawn certificates grows). Their ``expires`` is the end of the build's UTC day plus
the EU DCC validity: every DCC of a certificate withdrawn before then has expired by then.
A batch's id hashes its country, kid, hash type and entries, so every process lists and
serves the same ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from certdist.errors import NotFound
from certdist.formats import dcc_revocation as batch_format
from certdist.formats.eu_dcc import uvci
from certdist.services.common import Clock
from certdist.services.distribution.wallet import WithdrawnList
from certdist.signing.dsc import DocumentSigners, UploadSigner
from certdist.storage.repository import CertificateRepository, WithdrawnCertificate

_DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class SignedBatch:
    """One published batch: its id (a hash of its JSON), when it was built, the JSON and the
    CMS form."""

    batch_id: str
    date: datetime
    document: dict[str, Any]
    cms: str


class DccRevocationBatches:
    def __init__(
        self,
        certificates: CertificateRepository,
        signers: DocumentSigners,
        clock: Clock,
        *,
        country: str,
        validity: timedelta,
        upload: UploadSigner | None = None,
    ) -> None:
        self._signers = signers
        self._upload = upload
        self._clock = clock
        self._country = country
        self._validity = validity
        self._list = WithdrawnList(
            certificates,
            lambda certificate_id: batch_format.uci_hash(uvci(country, certificate_id)),
            name="EU DCC revocation list",
        )
        self._signed: tuple[int, list[SignedBatch]] | None = None

    def withdrawn(self, hashes: batch_format.DccHashes) -> WithdrawnCertificate | None:
        """The withdrawn certificate our batches list for this DCC, if any (the verifier's
        check: our batches hold ``UCI`` hashes)."""
        uci = hashes.by_type.get(batch_format.HashType.UCI)
        return None if uci is None else self._list.find(uci)

    def batches(self) -> list[SignedBatch]:
        """Every batch, signed (rebuilt only after a withdrawal)."""
        total, entries = self._list.entries()
        signed = self._signed
        if signed is not None and signed[0] == total:
            return signed[1]
        built = self._build([h for h, _ in entries])
        self._signed = (total, built)
        return built

    def listing(self) -> dict[str, Any]:
        """The batches as the gateway lists them (``more`` is for paging: we list all)."""
        return {
            "more": False,
            "batches": [
                {
                    "batchId": b.batch_id,
                    "country": b.document["country"],
                    "date": b.date.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "deleted": False,
                }
                for b in self.batches()
            ],
        }

    def batch(self, batch_id: str) -> SignedBatch:
        found = next((b for b in self.batches() if b.batch_id == batch_id), None)
        if found is None:
            raise NotFound("no EU DCC revocation batch with this id")
        return found

    def _build(self, hashes: list[bytes]) -> list[SignedBatch]:
        now = self._clock.now()
        # The end of a UTC day: every process that builds the batches on one day agrees.
        expires = datetime.combine(now.date(), time(), tzinfo=UTC) + self._validity + _DAY
        # The gateway takes batches signed by the country's upload certificate. Without one
        # configured, the DSC of the active key signs: every verifier that trusts our DCCs
        # already holds its certificate.
        if self._upload is not None:
            certificate, key = self._upload.certificate, self._upload.private_key
        else:
            active = self._signers.active
            assert active.private_key is not None
            certificate, key = active.certificate, active.private_key
        built = []
        for signer in self._signers.all():
            for document in batch_format.batches(
                country=self._country,
                kid=signer.kid,
                expires=expires,
                hash_type=batch_format.HashType.UCI,
                hashes=hashes,
            ):
                # The id names the entries, not when they were signed: every process (each
                # builds and signs its own copy) serves a listed batch under the same id.
                body = batch_format.batch_bytes({**document, "expires": None})
                built.append(
                    SignedBatch(
                        batch_id=hashlib.sha256(body).hexdigest()[:32],
                        date=now,
                        document=document,
                        cms=batch_format.sign_batch(document, certificate, key),
                    )
                )
        return built
