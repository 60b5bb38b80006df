"""Base45 (RFC 9285), with the RFC's examples."""

from __future__ import annotations

import os

import pytest

from certdist.formats.base45 import Base45Error, b45decode, b45encode


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
        (b"", ""),
    ],
)
def test_rfc_examples(data: bytes, text: str) -> None:
    assert b45encode(data) == text
    assert b45decode(text) == data


def test_round_trip_random_bytes() -> None:
    for size in range(0, 64):
        data = os.urandom(size)
        assert b45decode(b45encode(data)) == data


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("GGW", "above 65535"),
        ("a", "not in the Base45 alphabet"),
        ("ZZZZ", "dangling"),
        (":;", "not in the Base45 alphabet"),
        ("::", "above 255"),
    ],
)
def test_invalid_text_is_refused(text: str, reason: str) -> None:
    with pytest.raises(Base45Error, match=reason):
        b45decode(text)
