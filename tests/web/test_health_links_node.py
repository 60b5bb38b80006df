"""A SMART Health Link followed as the specification says, over HTTP, by a receiver that
shares no code with the service: the manifest (embedded files and single-use
``location`` files) and the ``U`` flag's direct file, each compact JWE decrypted by the
``jose`` npm package (``compactDecrypt``) under the key from the ``shlink:/`` alone."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.support.clients import TokenFactory
from tests.support.node_verifiers import CACHE_DIR, HARNESS_PRELUDE, NodeVerifiers, write_if_changed
from tests.support.request_bodies import vaccination_request_body

pytestmark = pytest.mark.node

JOSE_HARNESS = "jose-jwe-harness.cjs"
JOSE_HARNESS_JS = (
    HARNESS_PRELUDE
    + """
// case: {jwe: "<compact>", key: "<base64url, 32 bytes>"}: the plaintext and protected header.
main(async (testCase) => {
  const {compactDecrypt, base64url} = await import('jose');
  try {
    const {plaintext, protectedHeader} = await compactDecrypt(
      testCase.jwe, base64url.decode(testCase.key));
    return {plaintext: new TextDecoder().decode(plaintext), header: protectedHeader};
  } catch (error) {
    return {error: describe(error)};
  }
}).catch((error) => { toStderr((error && error.stack) || error); process.exit(1); });
"""
)
MOBILE = "9880414889"


def _payload(uri: str) -> dict[str, Any]:
    encoded = uri.removeprefix("shlink:/")
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return data


def _link(client: TestClient, auth: TokenFactory, code: str, **options: Any) -> dict[str, Any]:
    issued = client.post(
        "/divoc/api/v1/certify",
        json=[vaccination_request_body(code, mobile=MOBILE)],
        headers=auth("certificate-issuer"),
    )
    assert issued.status_code == 200, issued.text
    owner = auth("recipient", username="citizen-1", mobile=MOBILE)
    body = {"certificateId": issued.json()[0]["certificateId"], **options}
    created = client.post("/certificate/api/shl", json=body, headers=owner)
    assert created.status_code == 201, created.text
    return _payload(created.json()["shlink"])


def test_jose_decrypts_every_file_a_spec_following_receiver_fetches(
    client: TestClient, auth: TokenFactory, node_verifiers: NodeVerifiers
) -> None:
    write_if_changed(CACHE_DIR / JOSE_HARNESS, JOSE_HARNESS_JS)
    link = _link(client, auth, "JOSE1", flag="P", passcode="4711")
    path = urlsplit(link["url"]).path
    embedded = client.post(path, json={"recipient": "jose", "passcode": "4711"}).json()["files"]
    located = client.post(
        path, json={"recipient": "jose", "passcode": "4711", "embeddedLengthMax": 0}
    ).json()["files"]
    jwes = [(f["contentType"], f["embedded"]) for f in embedded]
    for file in located:
        answer = client.get(urlsplit(file["location"]).path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/jose"
        jwes.append((file["contentType"], answer.text))

    direct = _link(client, auth, "JOSE2", flag="U")
    answer = client.get(urlsplit(direct["url"]).path, params={"recipient": "jose"})
    assert answer.status_code == 200

    cases = [{"jwe": jwe, "key": link["key"]} for _, jwe in jwes]
    cases.append({"jwe": answer.text, "key": direct["key"]})
    cases.append({"jwe": jwes[0][1], "key": direct["key"]})  # another link's key: refused
    results = node_verifiers.run(JOSE_HARNESS, cases)

    *opened, wrong_key = results
    assert "error" in wrong_key
    types = [content_type for content_type, _ in jwes] + ["application/smart-health-card"]
    assert len(types) == 5
    for content_type, result in zip(types, opened, strict=True):
        assert "error" not in result, result
        assert result["header"] == {"alg": "dir", "enc": "A256GCM", "cty": content_type}
        document = json.loads(result["plaintext"])
        if content_type == "application/smart-health-card":
            [jws] = document["verifiableCredential"]
            assert jws.count(".") == 2
        else:
            assert document["resourceType"] == "Bundle"
