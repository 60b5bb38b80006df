"""The helpers of ``scripts/smoke.py`` (the script itself is run by ``scripts/check-wheel``):
its tampering must change the signed data and nothing else, or the smoke's "invalid" checks
would pass for the wrong reason."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from certdist.formats.divoc_qr import decode_payload
from certdist.services.verification import shc_numeric_to_jws
from tests.support.environment import PROJECT_ROOT


@pytest.fixture(scope="module")
def smoke() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("smoke", PROJECT_ROOT / "scripts" / "smoke.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["smoke"] = module  # dataclasses look their module up while being made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["smoke"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"", "")],
)
def test_base45_rfc9285_examples(smoke: ModuleType, raw: bytes, text: str) -> None:
    assert smoke.base45_encode(raw) == text
    assert smoke.base45_decode(text) == raw


def test_base45_round_trips_every_byte(smoke: ModuleType) -> None:
    data = bytes(range(256)) + b"\x00"
    assert smoke.base45_decode(smoke.base45_encode(data)) == data


def test_tamper_hc1_changes_the_name_only(smoke: ModuleType) -> None:
    cose = b"\xd2\x84" + b"...Bhaya Mitra...MITRA..."
    text = "HC1:" + smoke.base45_encode(zlib.compress(cose))
    tampered = zlib.decompress(smoke.base45_decode(smoke.tamper_hc1(text)[4:]))
    assert tampered == cose.replace(b"Mitra", b"Mitro")


def test_tamper_jws_keeps_header_and_signature(smoke: ModuleType) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    claims = json.dumps({"name": "Bhaya Mitra"}).encode()
    payload = base64.urlsafe_b64encode(packer.compress(claims) + packer.flush()).rstrip(b"=")
    jws = f"eyJhbGciOiJFUzI1NiJ9.{payload.decode()}.c2lnbmF0dXJl"
    header, body, signature = smoke.tamper_jws(jws).split(".")
    assert (header, signature) == ("eyJhbGciOiJFUzI1NiJ9", "c2lnbmF0dXJl")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert json.loads(zlib.decompress(raw, wbits=-15)) == {"name": "Bhaya Mitro"}


def test_a_missing_name_is_an_error_not_a_silent_copy(smoke: ModuleType) -> None:
    with pytest.raises(ValueError, match="not in the data"):
        smoke.replace_once(b"no such name", b"Mitra", b"Mitro")


def test_shc_numeric_is_what_the_verifier_reads(smoke: ModuleType) -> None:
    jws = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln-_"
    assert shc_numeric_to_jws(smoke.shc_numeric(jws)) == jws


def test_divoc_zip_is_a_divoc_qr_payload(smoke: ModuleType) -> None:
    credential = '{"name":"Bhaya Mitro"}'
    assert decode_payload(smoke.divoc_zip(credential.encode())) == credential


@pytest.mark.parametrize(
    ("stderr", "logged"),
    [
        ("", False),
        ("application/pdf, 1,234 bytes written to out.pdf\n", False),
        ("error: not a certificate\n", False),
        ('{"ts": "2026-01-01T00:00:00.000+00:00", "level": "INFO", "msg": "x"}\n', True),
        ("2026-01-01 00:00:00,000 INFO alembic.runtime.migration: Context impl\n", True),
    ],
)
def test_has_log_lines(smoke: ModuleType, stderr: str, logged: bool) -> None:
    assert smoke.has_log_lines(stderr) is logged


def test_interpreter_of_reads_the_scripts_first_line(smoke: ModuleType, tmp_path: Path) -> None:
    script = tmp_path / "certdist"
    script.write_text(f"#!{sys.executable}\nimport sys\n")
    assert smoke.interpreter_of(str(script)) == sys.executable
    script.write_text("#!/bin/sh\nexec nothing\n")
    assert smoke.interpreter_of(str(script)) is None
    assert smoke.interpreter_of(str(tmp_path / "missing")) is None


def test_the_environment_is_cleared_of_certdist_settings(
    smoke: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTDIST_DATABASE_URL", "postgresql://elsewhere/db")
    env = smoke.clean_environment(tmp_path / "data")
    assert "CERTDIST_DATABASE_URL" not in env
    assert env["CERTDIST_DATA_DIR"] == str(tmp_path / "data")
