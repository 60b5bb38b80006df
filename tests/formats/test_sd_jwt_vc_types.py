"""The SD-JWT VC type descriptions against what we issue: every selectively disclosable claim
path of a vaccination and a lab-test credential is described (``sd: "always"``) and nothing
else is, with labels in English and Hindi; the OpenID4VCI claims carry the same labels."""

from __future__ import annotations

from typing import Any

import pytest

from certdist.domain.models import TEST, VACCINATION
from certdist.formats import sd_jwt_vc_types as types
from certdist.formats.sd_jwt_vc import digest_of
from certdist.wiring import Services
from tests.support.issuing import certify
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.sd_jwt import decoded, payload_of, split

DEVANAGARI = range(0x0900, 0x0980)


def disclosed_paths(sd_jwt: str) -> set[tuple[str | None, ...]]:
    """The paths of the claims that are disclosures of their own (array elements as None)."""
    _, disclosures = split(sd_jwt)
    by_digest = {digest_of(d): decoded(d) for d in disclosures}
    found: set[tuple[str | None, ...]] = set()

    def walk(value: Any, path: tuple[str | None, ...]) -> None:
        if isinstance(value, dict):
            for digest in value.get("_sd", []):
                if digest in by_digest:  # not a decoy
                    _, name, item = by_digest[digest]
                    found.add((*path, name))
                    walk(item, (*path, name))
            for name, item in value.items():
                if name != "_sd":
                    walk(item, (*path, name))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and set(item) == {"..."}:
                    found.add((*path, None))
                    walk(by_digest[item["..."]][1], (*path, None))
                else:
                    walk(item, (*path, None))

    walk(payload_of(sd_jwt), ())
    return found


@pytest.fixture
def issued(services: Services) -> dict[str, str]:
    certify(services, vaccination_request_body("BEN0001", dose=1))
    certify(services, vaccination_request_body("BEN0001", dose=2))
    certify(services, lab_test_request_body("LAB0001"))
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    bundles = services.distribution.certificates
    return {
        VACCINATION: issuer.issue(bundles.bundle("BEN0001")),
        TEST: issuer.issue(bundles.bundle("LAB0001", TEST)),
    }


@pytest.mark.parametrize("kind", [VACCINATION, TEST])
def test_every_disclosable_claim_is_described(issued: dict[str, str], kind: str) -> None:
    sd_jwt = issued[kind]
    vct = payload_of(sd_jwt)["vct"]
    metadata = types.type_metadata(kind, vct)
    assert metadata["vct"] == vct
    described = {tuple(claim["path"]) for claim in metadata["claims"]}
    assert described == disclosed_paths(sd_jwt)
    assert {claim["sd"] for claim in metadata["claims"]} == {"always"}


@pytest.mark.parametrize("kind", [VACCINATION, TEST])
def test_labels_in_english_and_hindi(kind: str) -> None:
    metadata = types.type_metadata(kind, "https://certs.example.org/x")
    assert [d["locale"] for d in metadata["display"]] == ["en", "hi"]
    for entry in [*metadata["display"], *(d for c in metadata["claims"] for d in c["display"])]:
        text = entry.get("label") or entry["name"]
        assert text.strip() == text != ""
        if entry["locale"] == "hi":
            assert any(ord(character) in DEVANAGARI for character in text), text
        else:
            assert text.isascii(), text
    labels = [tuple(d["label"] for d in c["display"]) for c in metadata["claims"]]
    assert len(set(labels)) == len(labels)  # no two claims share a label


@pytest.mark.parametrize("kind", [VACCINATION, TEST])
def test_openid4vci_claims_have_the_same_labels(kind: str) -> None:
    metadata = types.type_metadata(kind, "https://certs.example.org/x")
    claims = types.openid4vci_claims(kind)
    assert [c["path"] for c in claims] == [c["path"] for c in metadata["claims"]]
    for ours, theirs in zip(claims, metadata["claims"], strict=True):
        assert set(ours) == {"path", "display"}
        assert ours["display"] == [
            {"name": d["label"], "locale": d["locale"]} for d in theirs["display"]
        ]
    assert types.credential_display(kind) == metadata["display"]


def test_an_unknown_kind_has_no_type() -> None:
    with pytest.raises(KeyError):
        types.type_metadata("TRAINING", "https://certs.example.org/x")
