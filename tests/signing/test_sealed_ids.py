"""Sealed identifiers: only the same key and purpose open them; every seal differs."""

from __future__ import annotations

from certdist.signing.sealed_ids import IdSeal


def test_a_sealed_id_opens_only_with_its_key_and_purpose() -> None:
    seal = IdSeal(b"k" * 32, "rid")
    first, second = seal.seal("100000001"), seal.seal("100000001")
    assert first != second
    assert seal.open(first) == seal.open(second) == "100000001"
    assert IdSeal(b"j" * 32, "rid").open(first) is None
    assert IdSeal(b"k" * 32, "other").open(first) is None
    assert seal.open(first[:-2] + ("AA" if not first.endswith("AA") else "BB")) is None
    assert seal.open("not base64!") is None
