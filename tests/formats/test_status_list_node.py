"""Our Bitstring Status Lists read by ``@digitalbazaar/vc-bitstring-status-list``: the bits
we set are the bits its ``decodeList`` finds, index for index, and only those; and its
``checkStatus`` reads a credential we issued against the list we serve for it."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from certdist.formats.status_list import MIN_ENTRIES, StatusList
from certdist.signing.contexts import ContextLoader
from certdist.signing.keys import KeyUse
from tests.signing.test_ldproof_node import contexts, js_key
from tests.support.clients import client_for
from tests.support.issuing import issue_signed
from tests.support.node_verifiers import (
    CACHE_DIR,
    HARNESS_PRELUDE,
    SIGNER_HARNESS,
    NodeVerifiers,
    write_if_changed,
)
from tests.support.services import ServicesFactory

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


SERVED_HARNESS = "bitstring-status-list-served-harness.cjs"
SERVED_HARNESS_JS = (
    HARNESS_PRELUDE
    + """
// case: {credential: {...}, list: {...}}: the library's own status check of the credential
// against the list served for it (its documentLoader hands out only that list; the list's
// proof is ours to check, see tests/web/test_status_list.py).
main(async (testCase) => {
  const bsl = await import('@digitalbazaar/vc-bitstring-status-list');
  try {
    const entry = bsl.getCredentialStatus(
      {credential: testCase.credential, statusPurpose: 'revocation'});
    const documentLoader = async (url) => {
      if (url === entry.statusListCredential) return {document: testCase.list};
      throw new Error('network access refused for ' + url);
    };
    const result = await bsl.checkStatus({
      credential: testCase.credential,
      documentLoader,
      verifyBitstringStatusListCredential: false,
    });
    if (!result.verified) return {error: describe(result.error)};
    return {status: result.results[0].status};
  } catch (error) {
    return {error: describe(error)};
  }
}).catch((error) => { toStderr((error && error.stack) || error); process.exit(1); });
"""
)


def test_the_library_reads_our_served_list_before_and_after_a_revocation(
    node_verifiers: NodeVerifiers, make_sqlite_services: ServicesFactory
) -> None:
    services = make_sqlite_services(status_list=True, public_url="https://certs.example.org")
    credential = json.loads(issue_signed(services))
    path = credential["credentialStatus"]["statusListCredential"].removeprefix(
        "https://certs.example.org"
    )
    with client_for(services) as client:
        before = client.get(path).json()
        services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
        after = client.get(path).json()
    write_if_changed(CACHE_DIR / SERVED_HARNESS, SERVED_HARNESS_JS)
    results = node_verifiers.run(
        SERVED_HARNESS,
        [{"credential": credential, "list": before}, {"credential": credential, "list": after}],
    )
    assert results == [{"status": False}, {"status": True}]


def test_divocs_signer_verifies_the_proof_of_our_served_list(
    node_verifiers: NodeVerifiers, make_sqlite_services: ServicesFactory
) -> None:
    """The list's linked-data proof, checked by DIVOC's own signer library with the
    deployment's credential key and our bundled contexts (status-list context included)."""
    services = make_sqlite_services(status_list=True, public_url="https://certs.example.org")
    credential = json.loads(issue_signed(services))
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    path = credential["credentialStatus"]["statusListCredential"]
    with client_for(services) as client:
        served = client.get(path.removeprefix("https://certs.example.org")).json()
    forged = json.loads(json.dumps(served))
    forged["credentialSubject"]["encodedList"] = StatusList(MIN_ENTRIES).encoded()
    key = services.infrastructure.keys.active(KeyUse.CREDENTIAL)
    loader = ContextLoader()
    base = {"op": "verify", "key": js_key(key), "contexts": contexts(loader)}
    results = node_verifiers.run(
        SIGNER_HARNESS,
        [{**base, "credential": document} for document in (served, forged, credential)],
    )
    assert [r["verified"] for r in results] == [True, False, True], results
