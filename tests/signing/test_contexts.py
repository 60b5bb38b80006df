"""The local context loader, and that its speed-ups leave pyld's output unchanged."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld

from certdist.errors import ConfigurationError, VerificationError
from certdist.signing.contexts import (
    BUNDLED_CONTEXTS,
    STANDARD_URLS,
    ContextLoader,
    bundled_context_path,
    default_loader,
)

from .samples import HARD_NAMES, TEST_CERTIFICATE, VACCINATION, CredentialFactory

COPIED_FROM_SHARED = {
    "credentials-v1",
    "security-v1",
    "security-v2",
    "vaccination-v1",
    "vaccination-v2",
}


def plain_pyld_canonize(document: dict[str, Any]) -> str:
    """Reference: pyld with a naive loader (fresh parse, no tags, no shared state)."""

    def naive_loader(url: str, options: Any = None) -> dict[str, Any]:
        text = bundled_context_path(STANDARD_URLS[url]).read_text(encoding="utf-8")
        return {"contextUrl": None, "documentUrl": url, "document": json.loads(text)}

    result: str = jsonld.normalize(
        json.loads(json.dumps(document)),
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": naive_loader,
            "base": None,
        },
    )
    return result


def test_standard_urls() -> None:
    loader = ContextLoader()
    expected = {
        "https://www.w3.org/2018/credentials/v1": "credentials-v1",
        "https://w3id.org/security/v1": "security-v1",
        "https://w3id.org/security/v2": "security-v2",
        "https://cowin.gov.in/credentials/vaccination/v1": "vaccination-v1",
        "https://divoc.dev/credentials/vaccination/v1": "vaccination-v1",
        "https://cowin.gov.in/credentials/vaccination/v2": "vaccination-v2",
        "https://divoc.dev/credentials/vaccination/v2": "vaccination-v2",
        "https://cowin.gov.in/credentials/testCertificate/v1": "testcertificate-v1",
        "https://divoc.dev/credentials/testCertificate/v1": "testcertificate-v1",
        "https://www.w3.org/ns/credentials/status/v1": "bitstring-status-list-v1",
    }
    assert loader.urls() == frozenset(expected)
    for url, name in expected.items():
        assert loader.path(url) == bundled_context_path(name)
        remote = loader(url, {})
        assert remote["documentUrl"] == url
        assert remote["contextUrl"] is None
        assert remote["document"] == json.loads(bundled_context_path(name).read_text())


def test_shipped_copies_match_the_shared_contexts(testdata: Path) -> None:
    for name in COPIED_FROM_SHARED:
        shared = json.loads((testdata / "contexts" / f"{name}.jsonld").read_text())
        assert json.loads(bundled_context_path(name).read_text()) == shared, name


def test_every_bundled_file_is_valid() -> None:
    for name in BUNDLED_CONTEXTS:
        document = json.loads(bundled_context_path(name).read_text(encoding="utf-8"))
        assert "@context" in document, name


def test_unknown_url_is_refused() -> None:
    with pytest.raises(VerificationError, match=re.escape("'https://evil.example/ctx'")):
        ContextLoader()("https://evil.example/ctx", {})


def test_aliases(tmp_path: Path) -> None:
    own = tmp_path / "own.jsonld"
    own.write_text(json.dumps({"@context": {"x": "https://example.gov/x"}}), encoding="utf-8")
    loader = ContextLoader(
        {
            "https://example.gov/credentials/vaccination/v1": "vaccination-v1",
            "https://example.gov/own/v1": own,
        }
    )
    vaccination = loader("https://example.gov/credentials/vaccination/v1", {})["document"]
    assert vaccination == json.loads(bundled_context_path("vaccination-v1").read_text())
    assert loader.document("https://example.gov/own/v1") == {
        "@context": {"x": "https://example.gov/x"}
    }
    assert "https://example.gov/own/v1" not in default_loader().urls()


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "cannot read"), ("{not json", "not valid JSON"), ("[1, 2]", "@context entry")],
)
def test_broken_alias_files_fail_at_construction(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "ctx.jsonld"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=reason):
        ContextLoader({"https://example.gov/ctx": path})


def test_standard_urls_cannot_be_remapped() -> None:
    url = "https://www.w3.org/2018/credentials/v1"
    assert ContextLoader({url: "credentials-v1"}).path(url) == bundled_context_path(
        "credentials-v1"
    )
    with pytest.raises(ConfigurationError, match="standard JSON-LD context"):
        ContextLoader({url: "vaccination-v1"})


def test_unknown_bundled_name() -> None:
    with pytest.raises(ConfigurationError, match="no bundled JSON-LD context"):
        bundled_context_path("vaccination-v9")


def test_served_documents_cannot_be_changed() -> None:
    """pyld gets shared parsed contexts; they are sealed so nothing can edit them."""
    loader = ContextLoader()
    document = loader("https://cowin.gov.in/credentials/vaccination/v1", {})["document"]
    person = document["@context"]["Person"]["@context"]
    with pytest.raises(TypeError):
        person["name"] = "schema:givenName"
    with pytest.raises(TypeError):
        person.update(name="schema:givenName")
    with pytest.raises(TypeError):
        del person["name"]
    # a copy handed out for other uses is an ordinary dict
    copied = loader.document("https://cowin.gov.in/credentials/vaccination/v1")
    copied["@context"]["Person"]["@context"]["name"] = "changed"
    again = loader("https://cowin.gov.in/credentials/vaccination/v1", {})["document"]
    assert again["@context"]["Person"]["@context"]["name"] == "schema:name"


def sample_documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = [json.loads(json.dumps(VACCINATION))]
    documents.append(json.loads(json.dumps(TEST_CERTIFICATE)))
    for name in HARD_NAMES:
        document = json.loads(json.dumps(VACCINATION))
        document["credentialSubject"]["name"] = name
        documents.append(document)
    v2 = json.loads(json.dumps(VACCINATION))
    v2["@context"][1] = "https://divoc.dev/credentials/vaccination/v2"
    v2["credentialSubject"]["dob"] = "1994-11-30"
    documents.append(v2)
    inline = json.loads(json.dumps(VACCINATION))
    inline["@context"].append({"extra": "https://example.gov/vocab#extra"})
    inline["extra"] = "inline context term"
    documents.append(inline)
    proof_options = {
        "@context": "https://w3id.org/security/v2",
        "type": "RsaSignature2018",
        "created": "2021-08-28T11:35:43Z",
        "verificationMethod": "did:india",
        "proofPurpose": "assertionMethod",
    }
    documents.append(proof_options)
    return documents


def test_canonical_output_equals_plain_pyld(testdata: Path) -> None:
    """The caches and sealed contexts change speed only, never a byte of output."""
    documents = sample_documents()
    for name in ("rsa2018-signed.json", "rsa2018-tampered.json"):
        vector = json.loads((testdata / "divoc" / name).read_text(encoding="utf-8"))
        vector.pop("proof")
        documents.append(vector)
    loader = ContextLoader()
    for _ in range(3):  # cold, then warm caches
        for document in documents:
            assert loader.canonize(document) == plain_pyld_canonize(document)


def test_relative_ids_stay_relative(vaccination_credential: CredentialFactory) -> None:
    """base=None: pyld would otherwise resolve "abc" against http://example.org/base/."""
    credential = vaccination_credential()
    credential["credentialSubject"]["id"] = "abc"
    nquads = ContextLoader().canonize(credential)
    assert "example.org" not in nquads
    assert "<abc>" not in nquads  # relative subjects are dropped, as jsonld.js drops them


def test_canonize_is_thread_safe(vaccination_credential: CredentialFactory) -> None:
    loader = ContextLoader()
    documents = [vaccination_credential(name=name) for name in HARD_NAMES]
    expected = [plain_pyld_canonize(document) for document in documents]
    failures: list[str] = []

    def work() -> None:
        for _ in range(5):
            for document, want in zip(documents, expected, strict=True):
                if loader.canonize(document) != want:
                    failures.append(document["credentialSubject"]["name"])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_canonize_reports_problems_without_values(
    vaccination_credential: CredentialFactory,
) -> None:
    loader = ContextLoader()
    undefined = vaccination_credential()
    undefined["credentialSubject"]["secretField"] = "SECRET-VALUE"
    with pytest.raises(VerificationError, match="'secretField' is not defined") as raised:
        loader.canonize(undefined)
    assert "SECRET-VALUE" not in str(raised.value)

    protected = vaccination_credential()
    protected["@context"].append({"Person": "https://evil.example/Person"})
    with pytest.raises(VerificationError, match="protected term") as raised:
        loader.canonize(protected)
    assert "evil.example" not in str(raised.value)

    unknown = vaccination_credential(context="https://evil.example/ctx")
    with pytest.raises(VerificationError, match="not available locally"):
        loader.canonize(unknown)


def test_test_certificate_terms_are_distinct(
    test_certificate_credential: CredentialFactory,
) -> None:
    """Unlike the vaccination context, where e.g. dose and totalDoses share one IRI (so
    swapping them keeps the signature valid), every test-certificate field has its own."""
    credential = test_certificate_credential()
    evidence = credential["evidence"][0]
    fields = [k for k, v in evidence.items() if isinstance(v, str) and k not in ("id", "type")]
    for index, field in enumerate(fields):
        evidence[field] = f"value-{index}"
    nquads = ContextLoader().canonize(credential).splitlines()
    predicates = {}
    for index, field in enumerate(fields):
        [line] = [q for q in nquads if f'"value-{index}"' in q]
        predicates[field] = line.split(" ")[1]
    assert len(set(predicates.values())) == len(fields), predicates
    prefix = "<https://cowin.gov.in/credentials/testCertificate/v1#"
    assert f"{prefix}TestDetails>" in "\n".join(nquads)
    assert predicates["result"] == f"{prefix}result>"
