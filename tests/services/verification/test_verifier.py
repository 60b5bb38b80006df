"""The verifier's dispatch: a format without a checker is unsupported; hostile input of every
recognised form is an outcome, never a crash."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import cbor2
import pytest

from certdist.formats.base45 import b45encode
from certdist.formats.eu_dcc import PREFIX
from certdist.services.verification import Status, Verifier
from certdist.signing.contexts import ContextLoader
from certdist.signing.jose import b64url
from certdist.wiring import Services


def test_formats_without_a_checker_are_unsupported(services: Services, testdata: Path) -> None:
    bare = Verifier(
        services.verifier.trust, services.database.certificates(), services.clock, ContextLoader()
    )
    for data in (
        "HC1:NCFOXN%TS3DH",
        (testdata / "shc" / "examples" / "example-00-d-jws.txt").read_text(),
    ):
        outcome = bare.check(data)
        assert (outcome.status, outcome.code) == (Status.INVALID, "unsupported")


def _hc1(raw: bytes) -> str:
    return PREFIX + b45encode(zlib.compress(raw))


def _jws(header: bytes, payload: bytes, signature: bytes = b"s" * 64) -> str:
    return ".".join(b64url(part) for part in (header, payload, signature))


def _deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


_ES256_DEF = json.dumps({"alg": "ES256", "zip": "DEF", "kid": "k"}).encode()

#: Recognised forms broken at every step a decoder takes: each is an outcome, never a crash.
HOSTILE: dict[str, str | bytes] = {
    "hc1 nested arrays": _hc1(b"\x81" * 100_000),
    "hc1 huge declared length": _hc1(b"\x5b\x00\x00\x00\xff\xff\xff\xff\xff"),
    "hc1 tag out of range": _hc1(b"\xdb\xff\xff\xff\xff\xff\xff\xff\xff\x00"),
    "hc1 iat out of range": _hc1(
        cbor2.dumps(
            cbor2.CBORTag(
                18,
                [cbor2.dumps({1: -7, 4: b"k"}), {}, cbor2.dumps({6: 10**30, -260: {1: {}}}), b""],
            )
        )
    ),
    "hc1 not ascii": "HC1:6BF\u00e9",
    "jws header nested": _jws(b"[" * 10_000 + b"]" * 10_000, b"x"),
    "jws payload nested": _jws(_ES256_DEF, _deflated(b"[" * 100_000 + b"]" * 100_000)),
    "jws payload a list": _jws(_ES256_DEF, _deflated(b"[1]")),
    "divoc proof a list": '{"credentialSubject": {}, "proof": [1]}',
    "divoc jws nested header": json.dumps(
        {
            "credentialSubject": {},
            "proof": {
                "type": "RsaSignature2018",
                "proofPurpose": "assertionMethod",
                "verificationMethod": "did:x",
                "jws": b64url(b"[" * 10_000) + "..c2ln",
            },
        }
    ),
    "fhir signature data nested": json.dumps(
        {
            "resourceType": "Bundle",
            "signature": {
                "sigFormat": "application/jose",
                "data": base64.b64encode(
                    (b64url(b"[" * 10_000 + b"]" * 10_000) + "..c2ln").encode()
                ).decode(),
            },
        }
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_nothing_sent_crashes_the_verifier(services: Services, name: str) -> None:
    outcome = services.verifier.check(HOSTILE[name])
    assert (outcome.status, outcome.certificate) == (Status.INVALID, None)
    assert outcome.code in ("malformed", "unknown-key", "unsupported"), outcome
