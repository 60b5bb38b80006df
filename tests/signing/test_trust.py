"""The verifier's trust store: each format's identifiers find exactly the keys trusted for it."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk

from certdist.errors import (
    AuthenticationFailed,
    ConfigurationError,
    IssuerKeysUnavailable,
)
from certdist.formats.base45 import b45decode
from certdist.services.access.tokens import StaticKeys
from certdist.signing.jose import thumbprint
from certdist.signing.keys import KeyStore, KeyUse
from certdist.signing.trust import (
    ShcRevocations,
    TrustStore,
    dsc_kid,
    load_certificates,
    load_credential_key,
)
from tests.support.verifier_samples import SHC_ISSUER, SHC_KID

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def own_keys(tmp_path: Path) -> KeyStore:
    return KeyStore.init_directory(tmp_path / "keys", now=NOW)


class CountingSource:
    """A JWKS that gains a key after the first fetch, counting the fetches."""

    def __init__(self, first: jwk.JWKSet, later: jwk.JWKSet) -> None:
        self.sets = [first, later]
        self.fetches = 0

    def keys(self, *, refresh: bool = False) -> jwk.JWKSet:
        if refresh or self.fetches == 0:
            self.fetches += 1
        return self.sets[min(self.fetches, 2) - 1]


class FailingSource:
    def keys(self, *, refresh: bool = False) -> jwk.JWKSet:
        raise AuthenticationFailed("the token issuer's keys are unavailable")


def example_jwks(testdata: Path) -> jwk.JWKSet:
    path = testdata / "shc" / "examples" / "issuer" / ".well-known" / "jwks.json"
    return jwk.JWKSet.from_json(path.read_text())


def vector(testdata: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (testdata / "eu-dcc" / "vectors" / f"{name}.json").read_text()
    )
    return data


def vector_certificate(data: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(data["TESTCTX"]["CERTIFICATE"]))


def cose_kid(hc1: str) -> bytes:
    message = cbor2.loads(zlib.decompress(b45decode(hc1[4:])))
    while isinstance(message, cbor2.CBORTag):
        message = message.value
    kid: bytes = cbor2.loads(message[0])[4]
    return kid


# --- DIVOC credential keys ------------------------------------------------------------------


def test_own_credential_keys_active_and_retired(own_keys: KeyStore) -> None:
    old = own_keys.active(KeyUse.CREDENTIAL)
    new = own_keys.rotate(KeyUse.CREDENTIAL, NOW)
    trust = TrustStore(own_keys)
    for key in (old, new):
        assert trust.credential_key(key.id) == key.public_key
        assert trust.is_own_credential_key(key.id)


def test_a_key_rotated_after_the_store_was_built_is_found(own_keys: KeyStore) -> None:
    trust = TrustStore(own_keys)
    assert trust.credential_key(own_keys.active(KeyUse.CREDENTIAL).id) is not None
    new = own_keys.rotate(KeyUse.CREDENTIAL, NOW)
    assert trust.credential_key(new.id) == new.public_key


def test_keys_of_other_uses_never_verify_credentials(own_keys: KeyStore) -> None:
    trust = TrustStore(own_keys)
    for use in (KeyUse.SHC, KeyUse.DCC, KeyUse.TOKEN):
        key_id = own_keys.active(use).id
        assert trust.credential_key(key_id) is None
        assert not trust.is_own_credential_key(key_id)


def test_foreign_credential_key_from_pem(testdata: Path, own_keys: KeyStore) -> None:
    key = load_credential_key("did:india", testdata / "divoc" / "rsa2018-public.pem")
    trust = TrustStore(own_keys, credential_keys={"did:india": key})
    assert trust.credential_key("did:india") == key
    assert not trust.is_own_credential_key("did:india")
    assert trust.credential_key("did:elsewhere") is None


def test_foreign_key_may_not_reuse_an_own_key_id(testdata: Path, own_keys: KeyStore) -> None:
    own_id = own_keys.active(KeyUse.CREDENTIAL).id
    key = load_credential_key(own_id, testdata / "divoc" / "rsa2018-public.pem")
    with pytest.raises(ConfigurationError, match="reuse our key ids"):
        TrustStore(own_keys, credential_keys={own_id: key})


def test_a_credential_key_file_must_be_a_public_key(tmp_path: Path) -> None:
    path = tmp_path / "not-a-key.pem"
    path.write_text("hello")
    with pytest.raises(ConfigurationError):
        load_credential_key("did:x", path)


# --- SMART Health Card issuers --------------------------------------------------------------


def test_own_shc_key_by_thumbprint(own_keys: KeyStore) -> None:
    trust = TrustStore(own_keys, own_shc_issuer="https://certs.example/")
    key = own_keys.active(KeyUse.SHC).public_key
    kid = thumbprint(key)  # type: ignore[arg-type]
    assert trust.shc_keys("https://certs.example", kid) == [key]
    assert trust.shc_keys("https://certs.example/", kid) == [key]  # trailing slash tolerated
    assert trust.is_own_shc_issuer("https://certs.example")
    assert trust.shc_keys("https://certs.example", "another-kid") == []
    assert trust.shc_keys("https://elsewhere.example", kid) == []


def test_configured_jwks_by_issuer_and_kid(testdata: Path) -> None:
    trust = TrustStore(shc_issuers={SHC_ISSUER: _static(example_jwks(testdata))})
    keys = trust.shc_keys(SHC_ISSUER, SHC_KID)
    assert len(keys) == 1
    assert thumbprint(keys[0]) == SHC_KID  # type: ignore[arg-type]
    assert trust.shc_keys(SHC_ISSUER, "unknown") == []
    assert trust.shc_keys("https://not-configured.example", SHC_KID) == []


def test_unknown_kid_refreshes_the_jwks_once(testdata: Path) -> None:
    source = CountingSource(jwk.JWKSet(), example_jwks(testdata))
    trust = TrustStore(shc_issuers={SHC_ISSUER: source})
    assert len(trust.shc_keys(SHC_ISSUER, SHC_KID)) == 1
    assert source.fetches == 2


def test_unreachable_jwks_is_a_verification_error() -> None:
    trust = TrustStore(shc_issuers={SHC_ISSUER: FailingSource()})
    with pytest.raises(IssuerKeysUnavailable, match="could not be fetched"):
        trust.shc_keys(SHC_ISSUER, SHC_KID)


def test_only_p256_keys_count_for_cards() -> None:
    rsa_key = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1")
    keyset = jwk.JWKSet()
    keyset.add(rsa_key)
    trust = TrustStore(shc_issuers={SHC_ISSUER: _static(keyset)})
    assert trust.shc_keys(SHC_ISSUER, "rsa-1") == []


def test_revocation_lists_by_issuer() -> None:
    crl = {"kid": SHC_KID, "method": "rid", "ctr": 1, "rids": ["abc"]}
    trust = TrustStore(shc_revocation_lists={SHC_ISSUER + "/": [crl]})
    assert trust.shc_revocations(SHC_ISSUER, SHC_KID) == ShcRevocations((crl,))
    assert trust.shc_revocations("https://other.example", SHC_KID) == ShcRevocations()


class RecordingLists:
    """A revocation list source that records what it was asked for."""

    def __init__(self, answer: ShcRevocations) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int]] = []

    def revocations(self, kid: str, version: int) -> ShcRevocations:
        self.asked.append((kid, version))
        return self.answer


def _jwks_with_crl_version(testdata: Path, version: object) -> jwk.JWKSet:
    document = json.loads(
        (testdata / "shc" / "examples" / "issuer" / ".well-known" / "jwks.json").read_text()
    )
    for key in document["keys"]:
        if key["kid"] == SHC_KID:
            key["crlVersion"] = version
    return jwk.JWKSet.from_json(json.dumps(document))


def test_a_key_with_crl_version_asks_its_source_at_that_version(testdata: Path) -> None:
    fetched = {"kid": SHC_KID, "method": "rid", "ctr": 7, "rids": ["abc"]}
    source = RecordingLists(ShcRevocations((fetched,)))
    trust = TrustStore(
        shc_issuers={SHC_ISSUER: _static(_jwks_with_crl_version(testdata, 7))},
        shc_revocation_sources={SHC_ISSUER: source},
    )
    assert trust.shc_revocations(SHC_ISSUER + "/", SHC_KID) == ShcRevocations((fetched,))
    assert source.asked == [(SHC_KID, 7)]


def test_a_key_without_crl_version_asks_nothing(testdata: Path) -> None:
    other_kid = "EBKOr72QQDcTBUuVzAzkfBTGew0ZA16GuWty64nS-sw"  # no crlVersion in its JWK
    source = RecordingLists(ShcRevocations(unknown="must not be asked"))
    trust = TrustStore(
        shc_issuers={SHC_ISSUER: _static(example_jwks(testdata))},
        shc_revocation_sources={SHC_ISSUER: source},
    )
    assert trust.shc_revocations(SHC_ISSUER, other_kid) == ShcRevocations()
    assert source.asked == []


def test_a_file_for_the_key_wins_over_its_source(testdata: Path) -> None:
    crl = {"kid": SHC_KID, "method": "rid", "ctr": 1, "rids": []}
    source = RecordingLists(ShcRevocations(unknown="must not be asked"))
    trust = TrustStore(
        shc_issuers={SHC_ISSUER: _static(example_jwks(testdata))},
        shc_revocation_lists={SHC_ISSUER: [crl]},
        shc_revocation_sources={SHC_ISSUER: source},
    )
    assert trust.shc_revocations(SHC_ISSUER, SHC_KID) == ShcRevocations((crl,))
    assert source.asked == []


@pytest.mark.parametrize("version", ["2", -1, True, 1.5])
def test_a_malformed_crl_version_leaves_revocation_unknown(testdata: Path, version: object) -> None:
    source = RecordingLists(ShcRevocations())
    trust = TrustStore(
        shc_issuers={SHC_ISSUER: _static(_jwks_with_crl_version(testdata, version))},
        shc_revocation_sources={SHC_ISSUER: source},
    )
    revocations = trust.shc_revocations(SHC_ISSUER, SHC_KID)
    assert revocations.unknown is not None
    assert "crlVersion" in revocations.unknown
    assert source.asked == []


# --- EU Document Signer Certificates --------------------------------------------------------


@pytest.mark.parametrize("name", ["CO1", "CO3", "SE-1"])
def test_dsc_kid_is_the_kid_the_vectors_carry(testdata: Path, name: str) -> None:
    data = vector(testdata, name)
    certificate = vector_certificate(data)
    assert dsc_kid(certificate) == cose_kid(data["PREFIX"])
    trust = TrustStore(document_signers=[certificate])
    assert trust.document_signers(dsc_kid(certificate)) == (certificate,)
    assert trust.dcc_keys(dsc_kid(certificate)) == [certificate.public_key()]
    assert trust.dcc_keys(b"\x00" * 8) == []
    assert not trust.is_own_document_signer(dsc_kid(certificate))


def test_own_document_signers_are_marked(testdata: Path) -> None:
    certificate = vector_certificate(vector(testdata, "CO3"))
    trust = TrustStore(own_document_signers=[certificate])
    assert trust.is_own_document_signer(dsc_kid(certificate))


def test_certificates_load_from_pem_bundles_and_der(testdata: Path, tmp_path: Path) -> None:
    first = vector_certificate(vector(testdata, "CO1"))
    second = vector_certificate(vector(testdata, "CO3"))
    pem = tmp_path / "dsc.pem"
    pem.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (first, second)))
    der = tmp_path / "dsc.der"
    der.write_bytes(first.public_bytes(serialization.Encoding.DER))
    assert load_certificates(pem) == [first, second]
    assert load_certificates(der) == [first]


def test_a_broken_certificate_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "dsc.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError):
        load_certificates(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_certificates(tmp_path / "missing.der")


def _static(keyset: jwk.JWKSet) -> StaticKeys:
    return StaticKeys(keyset)  # the kind of source the container builds from a JWKS file
