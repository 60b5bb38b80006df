"""JSON values as DIVOC's JavaScript verifiers read them (the cases pyld and jsonld.js differ)."""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum
from typing import Any

import pytest

from certdist.errors import InvalidInput, VerificationError
from certdist.signing.jsonsafe import plain_json


class Colour(StrEnum):
    RED = "red"


class Dose(IntEnum):
    FIRST = 1


def test_copies_into_plain_types_keeping_key_order() -> None:
    source = {"b": (1, 2.0, 2.5), "a": {"z": Colour.RED, "y": Dose.FIRST, "x": None, "w": True}}
    copied = plain_json(source, InvalidInput)
    assert copied == {"b": [1, 2, 2.5], "a": {"z": "red", "y": 1, "x": None, "w": True}}
    assert list(copied) == ["b", "a"]
    assert list(copied["a"]) == ["z", "y", "x", "w"]
    assert type(copied["a"]["z"]) is str
    assert type(copied["a"]["y"]) is int
    assert type(copied["b"][1]) is int
    assert copied["a"] is not source["a"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (2**53, "too large"),
        (-(2**53), "too large"),
        (1e300, "too large"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        (5e-7, "too close to zero"),
        ("a\tb", "tab characters"),
        ("\ud800", "not valid Unicode"),
        (b"bytes", "not a JSON value"),
        ({1: "x"}, "keys must be strings"),
        ({"x"}, "not a JSON value"),
    ],
)
def test_refusals_name_the_location(value: Any, reason: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^evidence\.0\.dose.*{reason}"):
        plain_json({"evidence": [{"dose": value}]}, InvalidInput)


def test_error_type_is_chosen_by_the_caller() -> None:
    with pytest.raises(VerificationError, match=r"^proof\.created"):
        plain_json({"created": "a\tb"}, VerificationError, "proof")


def test_numbers_javascript_keeps() -> None:
    values = [0, -0.0, 1e-6, 0.1, 1.5, 2**53 - 1, -(2**53 - 1), 123456789.125]
    assert plain_json(values, InvalidInput) == [
        0,
        0,
        1e-6,
        0.1,
        1.5,
        2**53 - 1,
        -(2**53 - 1),
        123456789.125,
    ]


@pytest.mark.parametrize(
    "node_id",
    ["did:in.gov.uidai.aadhaar:2342343334", "https://cowin.gov.in/vaccine/1", "_:b0", "urn:x"],
)
def test_absolute_ids_are_accepted(node_id: str) -> None:
    document = {"credentialSubject": {"id": node_id}, "issuer": node_id}
    assert plain_json(document, InvalidInput) == document


@pytest.mark.parametrize("node_id", ["", "1234", "vaccine/1", "#x", "did:x 1", "did:x:1\n"])
@pytest.mark.parametrize("key", ["id", "@id", "issuer"])
def test_relative_ids_are_refused(node_id: str, key: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"credentialSubject.{key}: must be an")):
        plain_json({"credentialSubject": {key: node_id}}, InvalidInput)


def test_ids_inside_contexts_are_term_definitions() -> None:
    document = {"@context": [{"id": "@id", "x": {"@id": "ex:x", "@context": {"id": "@id"}}}]}
    assert plain_json(document, InvalidInput) == document


def test_errors_never_carry_the_value() -> None:
    with pytest.raises(InvalidInput) as raised:
        plain_json({"credentialSubject": {"id": "AADHAAR 2342 3433 34"}}, InvalidInput)
    assert "2342" not in str(raised.value)
