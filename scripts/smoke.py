#!/usr/bin/env python3
"""The release smoke: an installed ``certdist`` issues, exports and verifies, end to end.

    python scripts/smoke.py [--certdist PATH] [--keep]

Only the standard library is used, so the script runs inside a container image that has just
Python and the installed ``certdist``: everything is done by running the ``certdist`` command
in a fresh temporary data folder (``CERTDIST_DATA_DIR``; every other ``CERTDIST_*`` variable
is cleared, so an operator's settings cannot leak in).

It initialises, issues one vaccination and one lab-test certificate, exports each in every
format it has and verifies every export (exit 0). Then it tampers with each: it changes a
letter of the name inside the signed data (the credential JSON, the DDCC:VS FHIR bundle's
JSON, the SMART Health Card JWS payload, the EU DCC's COSE payload) and checks that
``certdist verify`` says invalid (exit 1).
The tampered payloads are also put back into QR images and PDFs with the QR and PDF
libraries certdist itself depends on (segno, Pillow, zxing-cpp), run by certdist's own
interpreter; when that interpreter cannot be found those checks are skipped, not failed.

Last, with the extra ``certdist[tracing]`` installed, ``certdist serve`` runs with tracing on
(spans printed to stdout) and one download is asked for: its span must be named by the route
template and hold neither the beneficiary id nor the query string.

One line per check; the last line is ``smoke: N passed, M failed``; the exit status is 0
only when nothing failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

VACCINATION_FORMATS = (
    "json",
    "qr",
    "pdf",
    "shc",
    "shc-pdf",
    "shc-file",
    "eu-dcc",
    "eu-dcc-pdf",
    "fhir",
)
#: A DDCC:VS FHIR document records vaccinations only: certdist refuses it for a lab test.
LAB_TEST_FORMATS = tuple(name for name in VACCINATION_FORMATS if name != "fhir")
SUFFIX = {
    "json": ".json",
    "qr": ".png",
    "shc": ".png",
    "eu-dcc": ".png",
    "shc-file": ".smart-health-card",
    "fhir": ".fhir.json",
}
NAME = "Bhaya Mitra"
#: The tamper: one letter of the family name, so the data stays well-formed and the same size.
ORIGINAL, TAMPERED = b"Mitra", b"Mitro"
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
TIMEOUT_SECONDS = 180

# Run by certdist's own interpreter: its dependencies read and draw QR codes and PDFs.
_QR_TOOL = """
import sys
from PIL import Image

mode, source = sys.argv[1], sys.argv[2]
if mode == "decode":
    import zxingcpp
    with Image.open(source) as image:
        found = [b for b in zxingcpp.read_barcodes(image.convert("L")) if b.valid]
    sys.stdout.buffer.write(bytes(found[0].bytes))
else:
    import segno
    with open(source, "rb") as handle:
        payload = handle.read()
    png, pdf = sys.argv[3], sys.argv[4]
    segno.make(payload, error="m", micro=False).save(png, scale=4, border=4)
    with Image.open(png) as image:
        image.convert("RGB").save(pdf, "PDF", resolution=100.0)
"""


# --- tampering (pure functions, tested in tests/test_smoke_script.py) -------------------------


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    if old not in data:
        raise ValueError(f"{old!r} is not in the data")
    return data.replace(old, new, 1)


def base45_encode(data: bytes) -> str:
    """RFC 9285: every two bytes are three characters, a last single byte two."""
    out = []
    for i in range(0, len(data), 2):
        chunk = data[i : i + 2]
        value = int.from_bytes(chunk, "big")
        digits = 3 if len(chunk) == 2 else 2
        for _ in range(digits):
            value, digit = divmod(value, 45)
            out.append(BASE45[digit])
    return "".join(out)


def base45_decode(text: str) -> bytes:
    values = [BASE45.index(char) for char in text]
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        number = sum(v * 45**k for k, v in enumerate(group))
        out += number.to_bytes(2 if len(group) == 3 else 1, "big")
    return bytes(out)


def tamper_hc1(text: str) -> str:
    """``HC1:`` + base45(zlib(COSE)): a letter of the name changed inside the signed payload."""
    cose = zlib.decompress(base45_decode(text.strip().removeprefix("HC1:")))
    return "HC1:" + base45_encode(zlib.compress(replace_once(cose, ORIGINAL, TAMPERED), 9))


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tamper_jws(jws: str) -> str:
    """A SMART Health Card JWS (payload: raw DEFLATE of JSON) with the name changed; header
    and signature kept, so only the signature check can tell."""
    header, payload, signature = jws.strip().split(".")
    claims = zlib.decompress(_b64url_decode(payload), wbits=-15)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(replace_once(claims, ORIGINAL, TAMPERED)) + packer.flush()
    encoded = base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")
    return f"{header}.{encoded}.{signature}"


def shc_numeric(jws: str) -> str:
    """The ``shc:/`` QR text of a JWS: each character as two digits, ``ord(c) - 45``."""
    return "shc:/" + "".join(f"{ord(char) - 45:02d}" for char in jws)


def divoc_zip(credential_json: bytes) -> bytes:
    """A DIVOC QR payload: a ZIP with one DEFLATE entry, certificate.json."""
    path = Path(tempfile.mkdtemp()) / "qr.zip"
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("certificate.json", credential_json)
        return path.read_bytes()
    finally:
        shutil.rmtree(path.parent)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        suffix = f": {detail}" if detail else ""
        print(f"{'ok  ' if ok else 'FAIL'}  {what}{suffix}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(what)
        return ok

    def skip(self, what: str, why: str) -> None:
        print(f"skip  {what}: {why}", flush=True)
        self.skipped += 1


@dataclass
class Certdist:
    command: str
    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.command, *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )


def clean_environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTDIST_")}
    env["CERTDIST_DATA_DIR"] = str(data_dir)
    return env


def interpreter_of(command: str) -> str | None:
    """The Python that runs the ``certdist`` script (its ``#!`` line), or None."""
    script = Path(shutil.which(command) or command)
    try:
        with script.open("rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return None
    if first.startswith(b"#!"):
        named = first[2:].decode(errors="replace").split()
        if named and Path(named[0]).name.startswith("python") and Path(named[0]).is_file():
            return named[0]
    beside = script.parent / "python"
    return str(beside) if beside.is_file() else None


def first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:160]


def has_log_lines(stderr: str) -> bool:
    """Whether stderr holds log records (JSON lines or ``… INFO logger: …``)."""
    levels = (" DEBUG ", " INFO ", " WARNING ")
    return any(
        line.startswith('{"ts"') or any(level in line for level in levels)
        for line in stderr.splitlines()
    )


def vaccination_request(code: str, today: datetime) -> dict[str, object]:
    given = today - timedelta(days=10)
    return {
        "preEnrollmentCode": code,
        "programId": "covid-19",
        "recipient": {
            "name": NAME,
            "dob": "1994-11-30",
            "gender": "Male",
            "nationality": "Indian",
            "identity": "did:in.gov.uidai.aadhaar:2342343334",
            "contact": ["tel:9880414889"],
            "address": {
                "addressLine1": "444, 2nd Street",
                "district": "Bengaluru",
                "state": "Karnataka",
                "pincode": "560034",
            },
        },
        "vaccination": {
            "name": "Covishield",
            "batch": "MB3428BX",
            "manufacturer": "Serum Institute of India",
            "date": given.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "effectiveStart": given.strftime("%Y-%m-%d"),
            "effectiveUntil": (given + timedelta(days=365)).strftime("%Y-%m-%d"),
            "dose": 1,
            "totalDoses": 2,
        },
        "vaccinator": {"name": "Sooraj Singh"},
        "facility": {
            "name": "ABC Medical Center",
            "address": {
                "addressLine1": "123, Koramangala",
                "district": "Bengaluru South",
                "state": "Karnataka",
                "pincode": "560034",
            },
        },
    }


def lab_test_request(code: str, today: datetime) -> dict[str, object]:
    body = vaccination_request(code, today)
    del body["vaccination"], body["vaccinator"]
    sampled = today - timedelta(hours=6)
    body["testDetails"] = {
        "batch": "T-77",
        "manufacturer": "Mylab",
        "testName": "CoviSelf",
        "testType": "RAT",
        "disease": "COVID-19",
        "sampleOrigin": "Nasopharyngeal",
        "sampleCollectionTimestamp": sampled.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resultTimestamp": (sampled + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "result": "Negative",
    }
    body["verifier"] = {"name": "Lab Officer"}
    return body


class Smoke:
    def __init__(self, certdist: Certdist, work: Path, python: str | None) -> None:
        self.certdist = certdist
        self.work = work
        self.python = python
        self.tally = Tally()

    def run(self) -> Tally:
        self.check_version()
        if not self.check_init():
            return self.tally
        today = datetime.now(UTC)
        kinds = (
            ("vaccination", vaccination_request("SMOKE0001", today), VACCINATION_FORMATS),
            ("lab-test", lab_test_request("SMOKE0002", today), LAB_TEST_FORMATS),
        )
        for kind, request, formats in kinds:
            code = self.issue(kind, request)
            if code is None:
                continue
            exported = {name: self.export_and_verify(kind, code, name) for name in formats}
            if kind == "lab-test":
                self.check_fhir_refused(code)
            self.tampered(kind, {k: v for k, v in exported.items() if v is not None})
        self.check_tracing("SMOKE0001")
        return self.tally

    def check_tracing(self, code: str) -> None:
        """``serve`` with tracing on and the console exporter: a download's span."""
        what = "serve with tracing: the download's span names the route, not the path"
        probe = "import opentelemetry.sdk, opentelemetry.instrumentation.fastapi"
        if self.python is None:
            self.tally.skip(what, "certdist's interpreter not found")
            return
        if subprocess.run([self.python, "-c", probe], capture_output=True, check=False).returncode:
            self.tally.skip(what, "the extra certdist[tracing] is not installed")
            return
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        env = {
            **self.certdist.env,
            "CERTDIST_TRACING__ENABLED": "true",
            "CERTDIST_TRACING__EXPORTER": "console",
            "CERTDIST_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [self.certdist.command, "serve", "--port", str(port)],
            env=env,
            cwd=self.certdist.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        status = None
        try:
            deadline = time.monotonic() + TIMEOUT_SECONDS
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=5):  # noqa: S310
                        break
                except OSError:
                    time.sleep(0.2)  # polling a server that is starting
            url = f"{base}/certificate/api/certificatePDF/{code}?mobile=9999912345"
            try:
                urllib.request.urlopen(url, timeout=30)  # noqa: S310 - no token: 401
            except urllib.error.HTTPError as answer:
                status = answer.code
            except OSError as exc:
                status = str(exc)
        finally:
            server.send_signal(signal.SIGTERM)  # the lifespan's end flushes the spans
            try:
                output, errors = server.communicate(timeout=TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                output, errors = server.communicate()
        route = "GET /certificate/api/certificatePDF/{preEnrollmentCode}"
        named = f'"name": "{route}"' in output
        clean = code not in output and "9999912345" not in output
        spans = output.count('"trace_id"')
        detail = f"answer {status}, {spans} span(s) printed"
        if not named:
            detail += "; stderr: " + first_line(errors)
        self.tally.check(status == 401 and named and clean, what, detail)

    def check_version(self) -> None:
        result = self.certdist("--version")
        ok = result.returncode == 0 and result.stdout.startswith("certdist ")
        self.tally.check(ok, "certdist --version", first_line(result.stdout or result.stderr))

    def check_init(self) -> bool:
        result = self.certdist("init")
        ok = self.tally.check(result.returncode == 0, "init", first_line(result.stderr))
        quiet = not has_log_lines(result.stderr)
        self.tally.check(quiet, "init prints its answer only (no log lines on stderr)")
        return ok

    def issue(self, kind: str, request: dict[str, object]) -> str | None:
        path = self.work / f"{kind}-request.json"
        path.write_text(json.dumps([request]), encoding="utf-8")
        args = ["issue", str(path)] + (["--test"] if kind == "lab-test" else [])
        result = self.certdist(*args)
        code = None
        if result.returncode == 0:
            code = json.loads(result.stdout.splitlines()[0]).get("preEnrollmentCode")
        detail = f"{code}" if code else first_line(result.stderr or result.stdout)
        self.tally.check(code == request["preEnrollmentCode"], f"issue {kind}", detail)
        return code if isinstance(code, str) else None

    def export_and_verify(self, kind: str, code: str, name: str) -> Path | None:
        out = self.work / f"{kind}-{name}{SUFFIX.get(name, '.pdf')}"
        result = self.certdist("export", "--format", name, code, "--out", str(out))
        written = result.returncode == 0 and out.is_file() and out.stat().st_size > 0
        self.tally.check(written, f"export {kind} {name}", first_line(result.stderr))
        if not written:
            return None
        self.expect_verify(out, 0, f"verify {kind} {name}")
        return out

    def check_fhir_refused(self, code: str) -> None:
        out = self.work / "lab-test-fhir.json"
        result = self.certdist("export", "--format", "fhir", code, "--out", str(out))
        clean = (
            result.returncode in (1, 2)
            and result.stderr.startswith("error: ")
            and "Traceback" not in result.stderr
            and not out.exists()
        )
        self.tally.check(clean, "export lab-test fhir is refused", first_line(result.stderr))

    def expect_verify(self, path: Path, status: int, what: str) -> None:
        """Exit ``status`` and no log lines; a tampered copy (1) must fail on its signature,
        not on something else that makes it invalid."""
        result = self.certdist("verify", str(path))
        answer = first_line(result.stdout or result.stderr)
        ok = result.returncode == status and not has_log_lines(result.stderr)
        if status == 1:
            ok = ok and answer.startswith("INVALID") and "signature" in answer
        self.tally.check(ok, what, answer)

    def tampered(self, kind: str, exported: dict[str, Path]) -> None:
        payloads: dict[str, bytes] = {}
        if "json" in exported:
            credential = replace_once(exported["json"].read_bytes(), ORIGINAL, TAMPERED)
            self.write_and_verify(f"{kind}-tampered.json", credential, f"tampered {kind} json")
            payloads["DIVOC"] = divoc_zip(credential)
        if "fhir" in exported:
            # The bundle's signature is inside the document: the name is in the signed content.
            bundle = replace_once(exported["fhir"].read_bytes(), ORIGINAL, TAMPERED)
            self.write_and_verify(f"{kind}-tampered.fhir.json", bundle, f"tampered {kind} fhir")
        if "shc-file" in exported:
            card = json.loads(exported["shc-file"].read_text(encoding="utf-8"))
            jws = tamper_jws(card["verifiableCredential"][0])
            tampered_file = json.dumps({"verifiableCredential": [jws]}).encode()
            name = f"{kind}-tampered.smart-health-card"
            self.write_and_verify(name, tampered_file, f"tampered {kind} shc-file")
            self.write_and_verify(f"{kind}-tampered-shc.txt", jws.encode(), f"tampered {kind} jws")
            payloads["SMART Health Card"] = shc_numeric(jws).encode("ascii")
        hc1 = self.decode_qr(exported.get("eu-dcc"))
        if hc1 is not None:
            text = tamper_hc1(hc1.decode("ascii"))
            self.write_and_verify(f"{kind}-tampered-hc1.txt", text.encode(), f"tampered {kind} hc1")
            payloads["EU DCC"] = text.encode("ascii")
        for label, payload in payloads.items():
            self.tampered_pictures(kind, label, payload)

    def write_and_verify(self, name: str, content: bytes, what: str) -> None:
        path = self.work / name
        path.write_bytes(content)
        self.expect_verify(path, 1, what)

    def decode_qr(self, png: Path | None) -> bytes | None:
        if png is None:
            return None
        if self.python is None:
            self.tally.skip("read the EU DCC QR", "certdist's interpreter was not found")
            return None
        result = subprocess.run(
            [self.python, "-c", _QR_TOOL, "decode", str(png)],
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        ok = result.returncode == 0 and result.stdout.startswith(b"HC1:")
        self.tally.check(ok, "read the EU DCC QR", result.stderr.decode(errors="replace")[-160:])
        return result.stdout if ok else None

    def tampered_pictures(self, kind: str, label: str, payload: bytes) -> None:
        what = f"tampered {kind} {label} QR image and PDF"
        if self.python is None:
            self.tally.skip(what, "certdist's interpreter was not found")
            return
        stem = self.work / f"{kind}-tampered-{label.replace(' ', '-')}"
        source, png, pdf = (stem.with_suffix(s) for s in (".bin", ".png", ".pdf"))
        source.write_bytes(payload)
        made = subprocess.run(
            [self.python, "-c", _QR_TOOL, "encode", str(source), str(png), str(pdf)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        if not self.tally.check(made.returncode == 0, f"draw {what}", made.stderr[-160:]):
            return
        self.expect_verify(png, 1, f"tampered {kind} {label} QR image")
        self.expect_verify(pdf, 1, f"tampered {kind} {label} PDF")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Issue, export and verify with certdist.")
    parser.add_argument("--certdist", default="certdist", help="the certdist command to test")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    command = shutil.which(args.certdist)
    if command is None:
        print(f"smoke: no certdist command at {args.certdist!r}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="certdist-smoke-"))
    try:
        certdist = Certdist(command, clean_environment(work / "data"), work)
        print(f"smoke: {command} in {work}", flush=True)
        tally = Smoke(certdist, work, interpreter_of(command)).run()
    finally:
        if args.keep:
            print(f"smoke: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if tally.skipped:
        print(f"smoke: {tally.skipped} skipped")
    print(f"smoke: {tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
