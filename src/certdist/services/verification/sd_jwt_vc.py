"""SD-JWT VC presentations: the format's checks and the verifier's view, which shows only
the claims the holder disclosed.

Only this service's own SD-JWT VCs are trusted for now: the issuer must be our public URL
and the key one of our SMART Health Card keys (the key the credentials are signed with,
published at ``/.well-known/jwt-vc-issuer``). Trusting other issuers needs their JWT VC
issuer metadata fetched and configured, a later step.

Our revocation: the always-visible ``rid`` is the certificate id sealed with our key
(:func:`certdist.services.common.sd_jwt_rid_seal`); opened here, it names the certificate
whose record says whether it was revoked or replaced. A credential that names a Token Status
List (``status.status_list``) is also checked against that list (``StatusListChecker``).
A Key Binding JWT is checked when present; without one the view says the holder binding was
not shown (this verifier sends no nonce of its own, so it accepts a recent presentation for
any audience).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from certdist.domain.models import TEST
from certdist.errors import UnknownKey, VerificationError
from certdist.formats import sd_jwt_vc
from certdist.formats.token_status_list import reference_of
from certdist.services.verification.outcome import Examined, expiry_or
from certdist.services.verification.view import (
    CertificateFormat,
    VerifiedCertificate,
    as_list,
    as_mapping,
    int_or_none,
    text_or_none,
)
from certdist.signing.keys import PublicKey
from certdist.signing.trust import TrustStore


class SdJwtVcChecker:
    """Checks SD-JWT VC presentations; ``open_rid`` reads our sealed revocation references
    (``None`` for one we did not make)."""

    def __init__(self, open_rid: Callable[[str], str | None]) -> None:
        self._open_rid = open_rid

    def __call__(self, text: str, trust: TrustStore, now: datetime) -> Examined:
        def own_keys(iss: str, kid: str) -> list[PublicKey]:
            if not trust.is_own_shc_issuer(iss):
                raise UnknownKey(
                    f"signature: SD-JWT VCs of issuer {iss} are not trusted (only this "
                    "service's own)"
                )
            return trust.shc_keys(iss, kid)

        try:
            verified = sd_jwt_vc.verify_presentation(text, own_keys, now)
        except VerificationError as error:
            raise expiry_or(error) from None
        certificate_id = self._open_rid(verified.rid) if verified.rid else None
        return Examined(
            sd_jwt_view(verified),
            our_certificate_id=certificate_id,
            status_issuer=verified.issuer,
            token_status=reference_of(verified.claims),
        )


def sd_jwt_view(verified: sd_jwt_vc.VerifiedSdJwtVc) -> VerifiedCertificate:
    """The disclosed claims only: an undisclosed claim is absent from the view."""
    claims = verified.claims
    common: dict[str, Any] = {
        "format": CertificateFormat.SD_JWT_VC,
        "issuer": verified.issuer,
        "name": text_or_none(claims.get("name")) or "",
        "date_of_birth": text_or_none(claims.get("birthdate")),
        "valid_until": verified.expires_at.date().isoformat() if verified.expires_at else None,
        "holder_binding": "shown" if verified.holder_bound else "not shown",
    }
    if verified.vct.endswith("/" + sd_jwt_vc.VCT_PATHS[TEST]):
        test = as_mapping(claims.get("test"))
        return VerifiedCertificate(
            kind="test",
            test=text_or_none(test.get("name")) or text_or_none(test.get("type")),
            result=text_or_none(test.get("result")),
            date=text_or_none(test.get("sample_collected")),
            **common,
        )
    doses: list[Mapping[str, Any]] = [as_mapping(d) for d in as_list(claims.get("vaccinations"))]
    doses.sort(key=lambda d: (int_or_none(d.get("dose")) or 0, str(d.get("date", ""))))
    latest: Mapping[str, Any] = doses[-1] if doses else {}
    return VerifiedCertificate(
        kind="vaccination",
        vaccine=text_or_none(latest.get("vaccine")),
        dose=int_or_none(latest.get("dose")),
        total_doses=int_or_none(latest.get("total_doses")),
        date=text_or_none(latest.get("date")),
        **common,
    )
