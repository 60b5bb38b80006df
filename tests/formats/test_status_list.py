"""Bitstring Status List: bit order, the encodedList form, bounds on reading, and index
allocation that is random and never reuses an index."""

from __future__ import annotations

import base64
import gzip
import random

import pytest

from certdist.errors import MalformedCertificate
from certdist.formats.status_list import (
    MAX_ENTRIES,
    MIN_ENTRIES,
    StatusList,
    allocate_index,
    entry_of,
    read_list_credential,
    status_entry,
    status_list_credential,
    status_list_subject,
)


def raw_bits(encoded: str) -> bytes:
    """The bits of an encodedList, read without the code under test."""
    assert encoded[0] == "u"
    body = encoded[1:]
    assert "=" not in body
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_index_0_is_the_leftmost_bit_and_the_list_has_the_minimum_size() -> None:
    status = StatusList.of([0, 9, MIN_ENTRIES - 1])
    bits = raw_bits(status.encoded())
    assert len(bits) * 8 == MIN_ENTRIES == 131_072
    assert bits[0] == 0b1000_0000
    assert bits[1] == 0b0100_0000
    assert bits[-1] == 0b0000_0001
    assert sum(bin(b).count("1") for b in bits) == 3


def test_encoding_round_trips_and_is_deterministic() -> None:
    chosen = random.Random(7).sample(range(MIN_ENTRIES), 500)
    status = StatusList.of(chosen)
    again = StatusList.decode(status.encoded())
    assert [i for i in range(MIN_ENTRIES) if again.get(i)] == sorted(chosen)
    assert StatusList.of(chosen).encoded() == status.encoded()
    status.set(chosen[0], False)
    assert not StatusList.decode(status.encoded()).get(chosen[0])


def test_lists_below_the_minimum_or_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 131072"):
        StatusList(1024)
    with pytest.raises(IndexError):
        StatusList().set(MIN_ENTRIES)
    short = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16))).decode().rstrip("=")
    with pytest.raises(MalformedCertificate, match="at least"):
        StatusList.decode(short)


@pytest.mark.parametrize(
    ("encoded", "problem"),
    [
        ("zABC", "multibase"),
        ("u!!!", "base64url"),
        ("u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="), "GZIP"),
    ],
)
def test_malformed_lists_name_the_problem(encoded: str, problem: str) -> None:
    with pytest.raises(MalformedCertificate, match=problem):
        StatusList.decode(encoded)


def test_a_list_that_inflates_past_the_limit_is_refused() -> None:
    bomb = gzip.compress(bytes(MAX_ENTRIES // 8 + 8), mtime=0)
    assert len(bomb) < 100_000
    encoded = "u" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    with pytest.raises(MalformedCertificate, match="longer than"):
        StatusList.decode(encoded)


def test_indexes_are_random_and_never_reused() -> None:
    size = MIN_ENTRIES
    taken: set[int] = set()
    drawn = [allocate_index(taken, size) for _ in range(200)]
    for index in drawn:
        taken.add(index)
    fresh = [allocate_index(taken, size) for _ in range(200)]
    assert not taken & set(fresh)
    # Not the order of issue: consecutive credentials do not get consecutive indexes.
    assert sorted(drawn) != drawn


def test_a_nearly_full_list_is_searched_and_a_full_one_refused() -> None:
    size = 16
    taken = set(range(size)) - {11}
    assert allocate_index(taken, size, below=lambda n: 0) == 11
    with pytest.raises(ValueError, match="every index"):
        allocate_index(set(range(size)), size)


def test_the_entry_and_subject_have_the_specification_shape() -> None:
    url = "https://certdist.test/status/1"
    assert status_entry(url, 42) == {
        "id": f"{url}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": url,
    }
    subject = status_list_subject(url, StatusList.of([42]))
    assert (subject["type"], subject["statusPurpose"]) == ("BitstringStatusList", "revocation")
    assert StatusList.decode(subject["encodedList"]).get(42)


URL = "https://certs.example.org/trust/status/3"


def test_a_credentials_revocation_entry_is_found_among_its_statuses() -> None:
    entry = status_entry(URL, 77)
    assert entry_of({"credentialStatus": entry}) == (URL, 77)
    suspension = {**status_entry(URL, 5), "statusPurpose": "suspension"}
    other = {"type": "StatusList2021Entry", "statusListIndex": "1"}
    assert entry_of({"credentialStatus": [other, suspension, entry]}) == (URL, 77)
    assert entry_of({"credentialStatus": [other, suspension]}) is None
    assert entry_of({"type": ["VerifiableCredential"]}) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"statusListIndex": 77}, "statusListIndex"),
        ({"statusListIndex": "-1"}, "statusListIndex"),
        ({"statusListIndex": "٣"}, "statusListIndex"),
        ({"statusListCredential": None}, "statusListCredential"),
    ],
)
def test_a_broken_entry_names_the_problem(change: dict[str, object], problem: str) -> None:
    with pytest.raises(MalformedCertificate, match=problem):
        entry_of({"credentialStatus": {**status_entry(URL, 77), **change}})


ISSUER = "https://divoc.dev/"


def test_a_list_credential_is_read_and_checked() -> None:
    credential = status_list_credential(
        URL, StatusList.of([9]), issuer=ISSUER, issued_at="2026-12-06T00:00:00.000Z"
    )
    assert credential["@context"] == [
        "https://www.w3.org/2018/credentials/v1",
        "https://www.w3.org/ns/credentials/status/v1",
    ]
    assert read_list_credential(credential, url=URL, issuer=ISSUER).get(9)
    with pytest.raises(MalformedCertificate, match="fetched from"):
        read_list_credential(credential, url=URL + "0", issuer=ISSUER)
    wrong_type = {**credential, "type": ["VerifiableCredential"]}
    with pytest.raises(MalformedCertificate, match="BitstringStatusListCredential"):
        read_list_credential(wrong_type, url=URL, issuer=ISSUER)
    suspension = {**credential["credentialSubject"], "statusPurpose": "suspension"}
    with pytest.raises(MalformedCertificate, match="revocation"):
        read_list_credential(
            {**credential, "credentialSubject": suspension}, url=URL, issuer=ISSUER
        )
    # Another issuer's list does not decide on this issuer's credentials.
    with pytest.raises(MalformedCertificate, match="its issuer is not the credential's"):
        read_list_credential(credential, url=URL, issuer="https://other.example/")
    issuer_object = {**credential, "issuer": {"id": ISSUER, "name": "Ministry"}}
    assert read_list_credential(issuer_object, url=URL, issuer=ISSUER).get(9)
