"""Our Bitstring Status Lists read by ``@digitalbazaar/vc-bitstring-status-list`` (its
``decodeList``): the bits we set are the bits it finds, index for index, and only those."""

from __future__ import annotations

import random
from typing import Any

import pytest

from certdist.formats.status_list import MIN_ENTRIES, StatusList
from tests.support.node_verifiers import CACHE_DIR, HARNESS_PRELUDE, NodeVerifiers, write_if_changed

pytestmark = pytest.mark.node

STATUS_HARNESS = "bitstring-status-list-harness.cjs"
STATUS_HARNESS_JS = (
    HARNESS_PRELUDE
    + """
// case: {encodedList: "u…", indexes: [..]}: the status of each index, and the list's length.
main(async (testCase) => {
  const {decodeList} = await import('@digitalbazaar/vc-bitstring-status-list');
  try {
    const list = await decodeList({encodedList: testCase.encodedList});
    return {
      length: list.length,
      statuses: testCase.indexes.map((index) => list.getStatus(index)),
    };
  } catch (error) {
    return {error: describe(error)};
  }
}).catch((error) => { toStderr((error && error.stack) || error); process.exit(1); });
"""
)


def test_the_library_reads_the_bits_we_set(node_verifiers: NodeVerifiers) -> None:
    rng = random.Random(17)
    revoked = rng.sample(range(MIN_ENTRIES), 50)
    live = rng.sample(sorted(set(range(MIN_ENTRIES)) - set(revoked)), 50)
    probe = [0, 1, 7, 8, MIN_ENTRIES - 1, *revoked, *live]
    lists = [
        StatusList.of(revoked),
        StatusList.of([0, 8, MIN_ENTRIES - 1, *revoked]),
        StatusList(8 * MIN_ENTRIES),  # a larger list, nothing set
    ]
    cases: list[dict[str, Any]] = [
        {"encodedList": status.encoded(), "indexes": probe} for status in lists
    ]
    write_if_changed(CACHE_DIR / STATUS_HARNESS, STATUS_HARNESS_JS)
    results = node_verifiers.run(STATUS_HARNESS, cases)
    for status, result in zip(lists, results, strict=True):
        assert "error" not in result, result
        assert result["length"] == status.size
        assert result["statuses"] == [status.get(i) for i in probe]
    # The check can fail: the first list has revoked bits and not the probes of index 0.
    assert results[0]["statuses"][:5] == [False] * 5
    assert results[1]["statuses"][:5] == [True, False, False, True, True]
