"""The trust store built from the verifier settings."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from certdist.config import ForeignCredentialKey, Settings, VerifierSettings
from certdist.services.verification import build_trust_store
from certdist.signing.trust import dsc_kid, load_certificates
from certdist.storage.trust_imports import TrustImport
from certdist.wiring import Services
from tests.support.verifier_samples import SHC_ISSUER, SHC_KID, shc_settings
from tests.support.wallet_samples import document_signer_valid


def test_the_trust_store_reads_every_source(
    services: Services, testdata: Path, tmp_path: Path
) -> None:
    vector = json.loads((testdata / "eu-dcc" / "vectors" / "CO3.json").read_text())
    dsc = tmp_path / "dsc.der"
    dsc.write_bytes(base64.b64decode(vector["TESTCTX"]["CERTIFICATE"]))
    settings = Settings(
        data_dir=tmp_path / "unused",
        verifier=VerifierSettings(
            credential_keys=[
                ForeignCredentialKey(id="did:india", path=testdata / "divoc" / "rsa2018-public.pem")
            ],
            shc_issuers=shc_settings(testdata, with_crl=True).shc_issuers,
            dsc_certificates=[dsc],
        ),
    )
    trust = build_trust_store(settings.verifier, settings.public_url, services.keys)
    assert trust.credential_key("did:india") is not None
    assert trust.shc_keys(SHC_ISSUER, SHC_KID)
    assert len(trust.shc_revocations(SHC_ISSUER, SHC_KID).lists) == 1
    assert len(trust.document_signers(dsc_kid(load_certificates(dsc)[0]))) == 1


def test_imported_issuers_join_the_configured_ones(services: Services, testdata: Path) -> None:
    """An imported issuer without keys has them fetched from its iss; an issuer the settings
    also name keeps its configured source; imported DSCs are trusted for EU DCC."""
    jwks = (testdata / "shc" / "examples" / "issuer" / ".well-known" / "jwks.json").read_bytes()
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return jwks

    now = services.clock.now()
    dsc = document_signer_valid(now, now + timedelta(days=1)).certificate
    imported = TrustImport(
        name="list",
        format="vci-directory",
        source="test",
        imported_at=now,
        document_signers=(dsc.public_bytes(Encoding.DER),),
        shc_issuers={"https://fetched.example/issuer": None, SHC_ISSUER: {"keys": []}},
    )
    trust = build_trust_store(
        shc_settings(testdata, with_crl=False),
        services.settings.public_url,
        services.keys,
        imported=[imported],
        fetch=fetch,
    )
    assert len(trust.shc_keys(SHC_ISSUER, SHC_KID)) == 1  # the configured file, not {"keys": []}
    assert len(trust.shc_keys("https://fetched.example/issuer", SHC_KID)) == 1
    assert fetched == ["https://fetched.example/issuer/.well-known/jwks.json"]
    assert trust.document_signers(dsc_kid(dsc)) == (dsc,)
