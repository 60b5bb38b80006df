"""The trust store built from the verifier settings."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from certdist.config import ForeignCredentialKey, Settings, VerifierSettings
from certdist.services.verification import build_trust_store
from certdist.signing.trust import dsc_kid, load_certificates
from certdist.wiring import Services
from tests.support.verifier_samples import SHC_ISSUER, SHC_KID, shc_settings


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
