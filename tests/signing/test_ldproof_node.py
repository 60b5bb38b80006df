"""Independent verification of our proofs by DIVOC's own JavaScript (DESIGN §7).

* DIVOC's signing library (``certificate-signer-library``, npm) verifies what we sign, with
  RSA and Ed25519, and rejects tampered copies; what it signs with RSA, we verify.
* Ed25519 signatures are deterministic: for the same key, document and ``created`` time,
  its ``signJSON`` and our ``sign_credential`` must produce the very same proof.
* The verifier SDK used by wallet and verifier apps (``@pathcheck/divoc-sdk``, bundled with
  esbuild because it does not load on Node 20 as published) accepts our RSA credentials.

The npm packages, bundles and harness scripts are set up by
``tests/support/node_verifiers.py``. Nothing is fetched at verification time: every JSON-LD
context is handed to the harnesses from our shipped files, and the harnesses make any
network lookup throw.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from certdist.errors import InvalidInput, VerificationError
from certdist.signing.contexts import ContextLoader
from certdist.signing.keys import SigningKey
from certdist.signing.ldproof import sign_credential, verify_credential
from tests.support.node_verifiers import SDK_HARNESS, SIGNER_HARNESS, NodeVerifiers

from .samples import CREATED, HARD_NAMES, CredentialFactory

pytestmark = pytest.mark.node

ALIAS_URL = "https://example.gov/credentials/vaccination/v1"
CONTROLLER = "https://certdist.test/issuer"


# --- case builders ---------------------------------------------------------------------------


def contexts(loader: ContextLoader) -> dict[str, Any]:
    return {url: loader.document(url) for url in sorted(loader.urls())}


def js_key(key: SigningKey) -> dict[str, Any]:
    if isinstance(key.private_key, ed25519.Ed25519PrivateKey):
        return {
            "keyType": "ED25519",
            "id": key.id,
            "controller": CONTROLLER,
            "publicKeyHex": key.private_key.public_key().public_bytes_raw().hex(),
            "seedHex": key.private_key.private_bytes_raw().hex(),
        }
    private_pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "keyType": "RSA",
        "id": key.id,
        "controller": CONTROLLER,
        "publicKeyPem": key.public_pem(),
        "privateKeyPem": private_pem,
    }


def tampered(signed: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(signed)
    copied["evidence"][0]["dose"] = copied["evidence"][0]["dose"] + 1
    return copied


def names() -> list[str]:
    return ["Bhaya Mitra", *HARD_NAMES]


# --- the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("key_fixture", ["rsa_key", "ed25519_key"])
def test_divoc_signer_verifies_our_credentials(
    request: pytest.FixtureRequest,
    node_verifiers: NodeVerifiers,
    vaccination_credential: CredentialFactory,
    key_fixture: str,
) -> None:
    key: SigningKey = request.getfixturevalue(key_fixture)
    loader = ContextLoader()
    cases = []
    for name in names():
        signed = sign_credential(vaccination_credential(name=name), key, created=CREATED)
        for document in (signed, tampered(signed)):
            cases.append(
                {
                    "op": "verify",
                    "key": js_key(key),
                    "contexts": contexts(loader),
                    "credential": document,
                }
            )
    results = node_verifiers.run(SIGNER_HARNESS, cases)
    for index, name in enumerate(names()):
        genuine, forged = results[2 * index], results[2 * index + 1]
        assert genuine["verified"], (name, genuine["error"])
        assert not forged["verified"], name


def number_variants(make: CredentialFactory) -> list[dict[str, Any]]:
    """Numbers and booleans, whose canonical forms jsonld.js and pyld each compute."""
    variants = []
    for dose, total in [(1.5, 0.1), (-7, 2**53 - 1), (1e-6, 123456789.125), (-0.0, 2.0**52 - 0.5)]:
        credential = make()
        credential["evidence"][0]["dose"] = dose
        credential["evidence"][0]["totalDoses"] = total
        variants.append(credential)
    flagged = make()
    flagged["nonTransferable"] = True
    variants.append(flagged)
    return variants


def test_divoc_signer_ed25519_proofs_are_identical_to_ours(
    ed25519_key: SigningKey,
    node_verifiers: NodeVerifiers,
    vaccination_credential: CredentialFactory,
) -> None:
    loader = ContextLoader()
    unsigned = [vaccination_credential(name=name) for name in names()]
    unsigned += number_variants(vaccination_credential)
    cases = [
        {"op": "sign", "key": js_key(ed25519_key), "contexts": contexts(loader), "credential": c}
        for c in unsigned
    ]
    for credential, result in zip(unsigned, node_verifiers.run(SIGNER_HARNESS, cases), strict=True):
        theirs = result["signed"]
        assert {k: v for k, v in theirs.items() if k != "proof"} == credential
        created = datetime.fromisoformat(theirs["proof"]["created"])
        ours = sign_credential(credential, ed25519_key, created=created)
        assert json.dumps(ours["proof"]) == json.dumps(theirs["proof"])  # same keys, order, jws
        assert json.dumps(ours, ensure_ascii=False) == json.dumps(theirs, ensure_ascii=False)


def test_we_verify_what_the_divoc_signer_signs(
    rsa_key: SigningKey,
    node_verifiers: NodeVerifiers,
    vaccination_credential: CredentialFactory,
) -> None:
    loader = ContextLoader()
    cases = [
        {
            "op": "sign",
            "key": js_key(rsa_key),
            "contexts": contexts(loader),
            "credential": vaccination_credential(name=name),
        }
        for name in names()
    ]
    # DIVOC signs a tab raw; pyld would canonicalise it as "\\t", so we refuse to judge
    cases.append({**cases[0], "credential": vaccination_credential(name="Bhaya\tMitra")})
    *results, with_tab = node_verifiers.run(SIGNER_HARNESS, cases)
    for result in results:
        signed = result["signed"]
        assert signed["proof"]["type"] == "RsaSignature2018"
        assert verify_credential(signed, {rsa_key.id: rsa_key.public_key}.get) == rsa_key.id
        with pytest.raises(VerificationError, match="signature does not match"):
            verify_credential(tampered(signed), {rsa_key.id: rsa_key.public_key}.get)
    with pytest.raises(VerificationError, match="tab characters"):
        verify_credential(with_tab["signed"], {rsa_key.id: rsa_key.public_key}.get)


def test_divoc_sdk_verifies_our_rsa_credentials(
    rsa_key: SigningKey,
    other_rsa_key: SigningKey,
    node_verifiers: NodeVerifiers,
    vaccination_credential: CredentialFactory,
) -> None:
    aliased = ContextLoader({ALIAS_URL: "vaccination-v1"})
    alias_contexts = {ALIAS_URL: aliased.document(ALIAS_URL)}
    cases: list[dict[str, Any]] = []
    expected: list[bool] = []

    def add(credential: dict[str, Any], ok: bool, **extra: Any) -> None:
        cases.append({"credential": credential, "publicKeyPem": rsa_key.public_pem(), **extra})
        expected.append(ok)

    for name in names():
        signed = sign_credential(vaccination_credential(name=name), rsa_key, created=CREATED)
        add(signed, True)
        add(tampered(signed), False)
    by_other_key = sign_credential(vaccination_credential(), other_rsa_key, created=CREATED)
    by_other_key["proof"]["verificationMethod"] = rsa_key.id
    add(by_other_key, False)
    # a deployment's own context URL verifies once it is in the SDK's loader map
    own = aliased_signed = sign_credential(
        vaccination_credential(context=ALIAS_URL), rsa_key, created=CREATED, loader=aliased
    )
    add(own, True, contexts=alias_contexts)
    add(tampered(aliased_signed), False, contexts=alias_contexts)
    add(own, False)  # and is refused without it: the SDK never fetches contexts

    results = node_verifiers.run(SDK_HARNESS, cases)
    assert [r["verified"] for r in results] == expected


def test_relative_ids_leave_fields_unsigned_so_we_refuse_them(
    rsa_key: SigningKey,
    node_verifiers: NodeVerifiers,
    vaccination_credential: CredentialFactory,
) -> None:
    """Both stacks drop an object whose id is not an absolute IRI from the RDF, so none of
    its fields are signed: DIVOC's own verifier then accepts a changed name. certdist
    neither signs nor accepts such credentials."""
    credential = vaccination_credential()
    credential["credentialSubject"]["id"] = "1234"
    with pytest.raises(InvalidInput, match=r"credentialSubject\.id: must be an absolute URI"):
        sign_credential(credential, rsa_key, created=CREATED)

    base = {"key": js_key(rsa_key), "contexts": contexts(ContextLoader())}
    [signed] = node_verifiers.run(
        SIGNER_HARNESS, [{**base, "op": "sign", "credential": credential}]
    )
    forged = copy.deepcopy(signed["signed"])
    forged["credentialSubject"]["name"] = "Someone Else"
    [verdict] = node_verifiers.run(SIGNER_HARNESS, [{**base, "op": "verify", "credential": forged}])
    assert verdict["verified"], "DIVOC's verifier no longer accepts this; revisit the rule"
    with pytest.raises(VerificationError, match="must be an absolute URI"):
        verify_credential(forged, {rsa_key.id: rsa_key.public_key}.get)
