"""The wallet service's keys: the SHC issuer key set (retired keys included), the DSCs in
development and production, the production checks of the wallet settings, and the SMART
Health Card revocation list."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from certdist.config import Settings, WalletSettings
from certdist.domain.models import TEST, VACCINATION
from certdist.domain.roles import Permission, Principal
from certdist.errors import ConfigurationError, InvalidInput, NotFound
from certdist.formats.shc import ShcIssuer, qr_text, verify_shc
from certdist.services.common.clock import SystemClock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.distribution.wallet import (
    ShcRevocationList,
    build_wallet_issuers,
    open_document_signers,
    shc_jwks,
    shc_revocation_ids,
)
from certdist.services.verification.outcome import Status
from certdist.signing.jose import public_key_from_jwk, thumbprint
from certdist.signing.keys import KeyStore, KeyUse
from certdist.storage.repository import WithdrawnCertificate, WithdrawnCertificates
from certdist.wiring import Services
from tests.support.issuing import certify
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.services import ServicesFactory
from tests.support.wallet_samples import NOW, SHC_CODES, bundle, sample_revocation_id


def test_jwks_lists_active_and_retired_shc_keys_and_both_verify(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    keys = KeyStore.init_directory(settings.keys_dir, credential_algorithm="Ed25519", now=NOW)
    old_card = ShcIssuer(
        settings.public_url,
        keys.active(KeyUse.SHC),
        SHC_CODES,
        revocation_id=sample_revocation_id,
    ).jws(bundle(1))
    keys.rotate(KeyUse.SHC, NOW)
    issuers = build_wallet_issuers(
        settings.wallet,
        settings.site,
        keys,
        SystemClock(),
        hasher=KeyedHasher(b"k" * 32),
        vaccine_codes=settings.vaccine_codes,
    )
    new_card = issuers.shc.jws(bundle(1))
    published = shc_jwks(keys)["keys"]
    assert len(published) == 2
    by_kid = {}
    for jwk in published:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (jwk["use"], jwk["alg"]) == ("sig", "ES256")
        key = public_key_from_jwk(jwk)
        assert jwk["kid"] == thumbprint(key)
        by_kid[jwk["kid"]] = key
    for card in (old_card, new_card):
        verify_shc(card, lambda iss, kid: [by_kid[kid]] if kid in by_kid else [], NOW)


def test_production_refuses_generated_dsc_and_loads_configured_ones(tmp_path: Path) -> None:
    assert WalletSettings().production_problems()
    with pytest.raises(ConfigurationError, match=r"wallet\.dcc_dsc_certificate_files"):
        Settings(mode="production", public_url="https://x.test").check()  # type: ignore[arg-type]

    development = Settings(data_dir=tmp_path / "dev")
    keys = KeyStore.init_directory(development.keys_dir, credential_algorithm="Ed25519", now=NOW)
    local = open_document_signers(development.wallet, development.site, keys, SystemClock())
    certificate = tmp_path / "dsc.pem"
    certificate.write_bytes(local.active.certificate.public_bytes(serialization.Encoding.PEM))
    configured = Settings(
        data_dir=tmp_path / "prod",
        wallet=WalletSettings(dcc_dsc_certificate_files=[certificate]),
    )
    assert configured.wallet.production_problems() == []
    signers = open_document_signers(configured.wallet, configured.site, keys, SystemClock())
    assert signers.active.kid == local.active.kid
    assert signers.ca is None
    assert not (tmp_path / "prod").exists()  # nothing generated


def test_wallet_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTDIST_WALLET__DCC_COUNTRY", "LK")
    monkeypatch.setenv("CERTDIST_WALLET__DCC_VALIDITY_DAYS", "180")
    monkeypatch.setenv(
        "CERTDIST_WALLET__DCC_VACCINES",
        '{"sinopharm": {"vp": "1157024006", "mp": "BBIBP-CorV", "ma": "ORG-100020693"}}',
    )
    wallet = Settings().wallet
    assert wallet.dcc_country == "LK"
    assert wallet.dcc_validity_days == 180
    assert wallet.dcc_vaccines["sinopharm"].mp == "BBIBP-CorV"
    monkeypatch.setenv("CERTDIST_WALLET__DCC_COUNTRY", "India")
    with pytest.raises(ValueError, match="dcc_country"):
        Settings()


class FakeWithdrawals:
    """The one repository query the revocation list makes, over a fixed list."""

    def __init__(
        self, entries: list[WithdrawnCertificate], tests: list[WithdrawnCertificate] | None = None
    ) -> None:
        self.entries = entries
        self.tests = tests or []

    def withdrawn(self, entity_type: str, *, limit: int) -> WithdrawnCertificates:
        # Cards are issued for vaccinations and lab tests: nothing else is asked for.
        found = {VACCINATION: self.entries, TEST: self.tests}[entity_type]
        return WithdrawnCertificates(len(found), found[: max(limit, 0)])


def test_revocation_list_names_withdrawn_certificates_by_rid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    revoked = WithdrawnCertificate("1001", revoked=True)
    corrected = WithdrawnCertificate("1002", revoked=False)
    repository = FakeWithdrawals([corrected, revoked])
    revocations = ShcRevocationList(
        repository,  # type: ignore[arg-type]
        sample_revocation_id,
        limit=2,
    )
    assert revocations.version() == 3
    assert revocations.document("kid-1") == {
        "kid": "kid-1",
        "method": "rid",
        "ctr": 3,
        "rids": [sample_revocation_id("1002"), sample_revocation_id("1001")],
    }
    assert revocations.withdrawn(sample_revocation_id("1001")) == revoked
    assert revocations.withdrawn(sample_revocation_id("1002")) == corrected
    assert revocations.withdrawn(sample_revocation_id("1003")) is None
    assert not caplog.records
    repository.entries.append(WithdrawnCertificate("1003", revoked=True))
    assert revocations.document("kid-1")["ctr"] == 4
    assert len(revocations.document("kid-1")["rids"]) == 2
    assert "only the newest withdrawals" in caplog.text


def test_rids_are_keyed_hashes_of_the_certificate_id() -> None:
    rid = shc_revocation_ids(KeyedHasher(b"k" * 32))
    assert rid("1001") == rid("1001") != rid("1002")
    assert rid("1001") != shc_revocation_ids(KeyedHasher(b"j" * 32))("1001")
    assert len(rid("1001")) == 11


def test_revocation_list_names_withdrawn_lab_tests_too() -> None:
    vaccination = WithdrawnCertificate("2001", revoked=True)
    lab_test = WithdrawnCertificate("2002", revoked=True)
    repository = FakeWithdrawals([vaccination], [lab_test])
    revocations = ShcRevocationList(
        repository,  # type: ignore[arg-type]
        sample_revocation_id,
        limit=10,
    )
    assert revocations.version() == 3
    assert revocations.document("kid-1")["rids"] == [
        sample_revocation_id("2001"),
        sample_revocation_id("2002"),
    ]
    assert revocations.withdrawn(sample_revocation_id("2002")) == lab_test


@pytest.fixture
def lab_services(make_sqlite_services: ServicesFactory) -> Services:
    """A service with one beneficiary who has only a lab-test certificate (LAB1), and one
    with a vaccination and a lab test (BOTH1)."""
    built = make_sqlite_services()
    certify(
        built,
        lab_test_request_body("LAB1"),
        lab_test_request_body("BOTH1"),
        vaccination_request_body("BOTH1"),
    )
    return built


OPERATOR = Principal(subject="ops", username="ops", roles=frozenset(), issuer="test")


def test_the_wallet_serves_a_lab_test_when_there_is_no_vaccination(lab_services: Services) -> None:
    wallet = lab_services.distribution.wallet
    only_test = wallet.bundle("LAB1", caller=OPERATOR, permission=Permission.DISTRIBUTE)
    assert only_test.latest.entity_type == TEST
    both = wallet.bundle("BOTH1", caller=OPERATOR, permission=Permission.DISTRIBUTE)
    assert both.latest.entity_type == VACCINATION  # DIVOC's wallet routes served this one
    for_card = wallet.bundle(
        "LAB1", caller=OPERATOR, permission=Permission.DISTRIBUTE, format_name="shc"
    )
    assert for_card.latest.certificate_id == only_test.latest.certificate_id


def test_the_fhir_format_is_refused_for_a_lab_test_naming_the_problem(
    lab_services: Services,
) -> None:
    wallet = lab_services.distribution.wallet
    with pytest.raises(InvalidInput, match="fhir format is not issued for lab-test"):
        wallet.bundle("LAB1", caller=OPERATOR, permission=Permission.DISTRIBUTE, format_name="fhir")
    both = wallet.bundle(
        "BOTH1", caller=OPERATOR, permission=Permission.DISTRIBUTE, format_name="fhir"
    )
    assert both.latest.entity_type == VACCINATION
    with pytest.raises(NotFound):
        wallet.bundle("NOBODY1", caller=OPERATOR, permission=Permission.DISTRIBUTE)


def test_a_recipient_gets_no_lab_test_of_another_number(lab_services: Services) -> None:
    stranger = Principal(
        subject="x", username="x", roles=frozenset(), issuer="test", mobile="9000000001"
    )
    for format_name in (None, "fhir"):
        with pytest.raises(NotFound):
            lab_services.distribution.wallet.bundle(
                "LAB1", caller=stranger, permission=Permission.RECIPIENT, format_name=format_name
            )


def test_lab_test_wallet_documents_verify_in_our_verifier(lab_services: Services) -> None:
    issuers = lab_services.distribution.wallet.issuers
    record = lab_services.distribution.wallet.bundle(
        "LAB1", caller=OPERATOR, permission=Permission.DISTRIBUTE
    )
    evidence = record.credential["evidence"][0]
    dcc = lab_services.verifier.verify(issuers.dcc.hc1(record))
    card = lab_services.verifier.verify(qr_text(issuers.shc.jws(record)))
    for shown in (dcc, card):
        assert shown.kind == "test"
        assert shown.name == record.credential["credentialSubject"]["name"]
        assert shown.date is not None
        assert shown.date[:19] == evidence["sampleCollectionTimestamp"][:19]
    assert dcc.result == "Not detected"
    assert dcc.test == "Rapid antigen test"  # no name (nm) in the DCC: its type, in words
    assert card.result == "Negative"
    assert card.test is not None
    assert "antigen" in card.test


def test_a_withdrawn_lab_test_card_is_reported_revoked(lab_services: Services) -> None:
    issuers = lab_services.distribution.wallet.issuers
    record = lab_services.distribution.wallet.bundle(
        "LAB1", caller=OPERATOR, permission=Permission.DISTRIBUTE
    )
    card = qr_text(issuers.shc.jws(record))
    assert lab_services.verifier.check(card).status is Status.VALID
    lab_services.issuance.certificates.revoke("LAB1", None, reason="entered in error")
    assert lab_services.verifier.check(card).status is Status.REVOKED
    rid = lab_services.distribution.wallet.issuers.shc.revocation_id(record.latest.certificate_id)
    kid = issuers.shc.kid
    assert rid in lab_services.distribution.wallet.revocation_list(kid)["rids"]
