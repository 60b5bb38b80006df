"""The render cache: bounded by the bytes it holds, identical PDF objects stored once."""

from __future__ import annotations

from certdist.services.distribution import RenderCache

FONT = b"8 0 obj\n<</Length 4000>>stream\n" + b"F" * 4000 + b"\nendstream\nendobj\n"


def pdf(n: int) -> bytes:
    page = b"5 0 obj\n(page of %d)\nendobj\n" % n
    return b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n" + page + FONT + b"xref %d\n%%%%EOF" % n


def test_a_document_comes_back_byte_for_byte() -> None:
    cache = RenderCache(1 << 20)
    for n in range(3):
        cache.put(f"k{n}", pdf(n))
    cache.put("png", b"\x89PNG" + b"x" * 100)
    assert [cache.get(f"k{n}") for n in range(3)] == [pdf(n) for n in range(3)]
    assert cache.get("png") == b"\x89PNG" + b"x" * 100
    assert cache.get("missing") is None


def test_identical_objects_are_counted_once() -> None:
    cache = RenderCache(1 << 20)
    for n in range(100):
        cache.put(f"k{n}", pdf(n))
    assert len(cache) == 100
    assert cache.size < len(pdf(0)) + 100 * 100  # the font once, ~80 bytes per document
    assert cache.size > len(FONT)


def test_the_bound_holds_and_evicted_pieces_are_freed() -> None:
    limit = 3 * len(pdf(0))
    cache = RenderCache(limit)
    for n in range(2000):
        cache.put(f"png{n}", b"\x89PNG" + bytes([n % 256]) * 500 + b"%d" % n)
        assert cache.size <= limit
    assert cache.get("png0") is None
    assert cache.get("png1999") is not None
    for n in range(2000):
        cache.put(f"k{n}", pdf(n))
        assert cache.size <= limit
    assert cache.get("k1999") == pdf(1999)
    # Nothing of the PNGs is left: every piece still held belongs to a cached document.
    assert cache.size == sum(len(p) for p in cache._pieces)
    held = {id(piece) for pieces in cache._items.values() for piece in pieces}
    assert {id(s.value) for s in cache._pieces.values()} == held


def test_least_recently_used_goes_first() -> None:
    cache = RenderCache(2 * 1000 + 10)
    cache.put("a", b"a" * 1000)
    cache.put("b", b"b" * 1000)
    assert cache.get("a") is not None
    cache.put("c", b"c" * 1000)
    assert cache.get("b") is None
    assert cache.get("a") is not None


def test_a_document_larger_than_the_cache_is_not_kept() -> None:
    cache = RenderCache(100)
    cache.put("big", b"x" * 101)
    assert cache.get("big") is None
    assert cache.size == 0
