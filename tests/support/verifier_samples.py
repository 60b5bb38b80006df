"""Certificates, images and settings for the verifier's tests: QR codes as PNG and JPEG
pictures, signed credentials, the SMART Health Cards example issuer of the test vectors."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from certdist.config import ForeignShcIssuer, VerifierSettings
from certdist.formats.qr_image import qr_png
from certdist.services.issuance.service import dump_signed
from certdist.services.verification import Verifier
from certdist.services.verification.status_list import StatusListChecker
from certdist.signing.keys import SigningKey
from certdist.signing.ldproof import sign_credential

SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
SHC_KID = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"


def png_of(payload: bytes) -> bytes:
    return qr_png(payload, module_px=4)


def jpeg_of(payload: bytes) -> bytes:
    image = Image.open(io.BytesIO(qr_png(payload, module_px=6))).convert("L")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def sign(credential: dict[str, Any], key: SigningKey) -> str:
    return dump_signed(sign_credential(credential, key, created=datetime.now(UTC)))


def shc_settings(testdata: Path, *, with_crl: bool) -> VerifierSettings:
    issuer_dir = testdata / "shc" / "examples" / "issuer" / ".well-known"
    crl = [issuer_dir / "crl" / f"{SHC_KID}.json"] if with_crl else []
    return VerifierSettings(
        shc_issuers=[
            ForeignShcIssuer(iss=SHC_ISSUER, jwks_file=issuer_dir / "jwks.json", crl_files=crl)
        ]
    )


def blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (200, 200), 255).save(out, "PNG")
    return out.getvalue()


class _NoRecords:
    """A certificate repository that knows no certificate (another deployment's verifier)."""

    def get(self, certificate_id: str) -> None:
        return None


def another_deployment(verifier: Verifier, status_lists: StatusListChecker) -> Verifier:
    """``verifier`` as another deployment has it: none of our certificate records, and the
    status lists (Bitstring or Token) read through ``status_lists`` only."""
    return replace(verifier, certificates=_NoRecords(), status_lists=status_lists)  # type: ignore[arg-type]


class ServedBy:
    """A verifier's ``Fetch`` answered by our app through ``client`` (URLs under
    ``public_url``); ``fetched`` lists the URLs asked, in order."""

    def __init__(self, client: TestClient, public_url: str) -> None:
        self._client = client
        self._public_url = public_url
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        body: bytes = self._client.get(url.removeprefix(self._public_url)).content
        return body
