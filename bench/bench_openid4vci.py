"""Sizes and times of the OpenID4VCI exchange, in-process (issue #20).

One service on a fresh SQLite data folder (or ``--database-url``), one beneficiary with two
doses, then ``--repeat`` whole exchanges through the ASGI app (FastAPI's TestClient, no
sockets): the offer (``POST /certificate/api/wallet-offer``, the SMS into the development
inbox), the Credential Offer, the token, a nonce, and a credential request with one proof,
then one with ``--batch`` proofs. Each step's median and 90th percentile, next to
``GET /healthz`` through the same client in the same run (the baseline: app and client
without any work); and ``SdJwtVcIssuer.issue`` alone. Sizes: the credential with every
disclosure, its issuer-signed JWT, the offer link (what the QR code holds), the metadata.

    .venv/bin/python bench/bench_openid4vci.py [--repeat 200] [--batch 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from certdist.config import Settings
from certdist.domain.requests import CertificationRequest
from certdist.formats.sd_jwt_vc import sign_jwt
from certdist.signing.jose import p256_jwk
from certdist.web.app import create_app
from certdist.wiring import build_services

GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
MOBILE = "+919880414889"


def body(dose: int) -> dict[str, Any]:
    return {
        "preEnrollmentCode": "BENCH1",
        "recipient": {
            "name": "Bhaya Mitra",
            "dob": "1990-04-01",
            "gender": "Female",
            "nationality": "Indian",
            "identity": "did:in.gov.uidai.aadhaar:2342343334",
            "contact": [f"tel:{MOBILE}"],
            "address": {
                "addressLine1": "12 Park St",
                "district": "Pune",
                "state": "MH",
                "pincode": 411001,
            },
        },
        "vaccination": {
            "name": "COVISHIELD",
            "batch": "4121Z005",
            "manufacturer": "Serum Institute of India",
            "date": f"2021-0{dose + 3}-01T10:00:00.000Z",
            "effectiveStart": f"2021-0{dose + 3}-01",
            "effectiveUntil": "2022-05-01",
            "dose": dose,
            "totalDoses": 2,
        },
        "vaccinator": {"name": "Sooraj Singh"},
        "facility": {
            "name": "ABC Medical Center",
            "address": {
                "addressLine1": "1 Main Rd",
                "district": "Pune",
                "state": "MH",
                "pincode": 411001,
            },
        },
    }


class Timings:
    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = {}

    def run(self, step: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = call()
        self.steps.setdefault(step, []).append(time.perf_counter() - start)
        return result

    def row(self, step: str, per: int = 1) -> str:
        times = sorted(t / per for t in self.steps[step])
        p90 = times[int(len(times) * 0.9) - 1]
        return f"| {step} | {statistics.median(times) * 1000:.2f} | {p90 * 1000:.2f} |"


def proof(issuer: str, nonce: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    header = {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": p256_jwk(key.public_key())}
    return sign_jwt(header, {"aud": issuer, "iat": int(time.time()), "nonce": nonce}, key)


class Wallet:
    """The exchange through the app, each step timed into ``timings``."""

    def __init__(self, client: TestClient, services: Any, issuer: str, headers: dict[str, str]):
        self.client, self.services, self.issuer, self.headers = client, services, issuer, headers

    def exchange(self, proofs: int, t: Timings) -> list[str]:
        client = self.client
        label = "1 proof" if proofs == 1 else f"{proofs} proofs"
        made = t.run(
            "offer (SMS sent)",
            lambda: client.post("/certificate/api/wallet-offer?refId=BENCH1", headers=self.headers),
        )
        assert made.status_code == 201, made.text
        offer_path = "/" + made.json()["credential_offer_uri"].split("/", 3)[3]
        offer = t.run("credential offer", lambda: client.get(offer_path)).json()
        code = offer["grants"][GRANT]["pre-authorized_code"]
        tx_code = self.services.messaging.dev_inbox.latest(1, recipient=MOBILE)[0].body[:6]
        form = {"grant_type": GRANT, "pre-authorized_code": code, "tx_code": tx_code}
        token = t.run("token", lambda: client.post("/openid4vci/token", data=form)).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        nonce = t.run("nonce", lambda: client.post("/openid4vci/nonce")).json()["c_nonce"]
        jwts = [proof(self.issuer, nonce) for _ in range(proofs)]
        request = {"credential_configuration_id": "vaccination_sd_jwt_vc", "proofs": {"jwt": jwts}}
        answer = t.run(
            f"credential, {label}",
            lambda: client.post("/openid4vci/credential", json=request, headers=auth),
        )
        assert answer.status_code == 200, answer.text
        return [item["credential"] for item in answer.json()["credentials"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        fields: dict[str, Any] = {
            "data_dir": Path(folder),
            "openid4vci": {
                "offers_per_beneficiary_per_day": 1_000,
                "batch_size": max(2, args.batch),
            },
        }
        if args.database_url:
            fields["database_url"] = args.database_url
        settings = Settings(**fields)
        services = build_services(settings)
        services.issuance.certificates.certify(
            [CertificationRequest.model_validate(body(d)) for d in (1, 2)]
        )
        app = create_app(settings, services=services)
        issuer = settings.public_url.rstrip("/")
        assert services.access.local_issuer is not None
        token = services.access.local_issuer.mint(("certificate-api",), username="bench")
        headers = {"Authorization": f"Bearer {token}"}
        t = Timings()
        with TestClient(app) as client:
            wallet = Wallet(client, services, issuer, headers)
            for _ in range(20):  # warm-up: imports, caches, first SQL
                wallet.exchange(1, Timings())
                client.get("/healthz")
            for _ in range(args.repeat):
                t.run("GET /healthz (baseline)", lambda: client.get("/healthz"))
                [credential] = wallet.exchange(1, t)
            batch = Timings()
            for _ in range(max(10, args.repeat // 4)):
                assert len(wallet.exchange(args.batch, batch)) == args.batch
            t.steps.update({k: v for k, v in batch.steps.items() if "proofs" in k})
            metadata = client.get("/.well-known/openid-credential-issuer").content
            made = client.post("/certificate/api/wallet-offer?refId=BENCH1", headers=headers)
            link = made.json()["credential_offer"]
        bundle = services.distribution.certificates.bundle("BENCH1")
        sd_jwt = services.distribution.issuers.sd_jwt_vc
        holder = p256_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
        for _ in range(50):
            sd_jwt.issue(bundle, holder_jwk=holder)
        for _ in range(args.repeat):
            t.run("SdJwtVcIssuer.issue alone", lambda: sd_jwt.issue(bundle, holder_jwk=holder))
        services.close()
    jwt, *disclosures = credential.split("~")[:-1]
    print(
        f"python {platform.python_version()}, {args.repeat} exchanges, "
        f"database {'given' if args.database_url else 'SQLite'}\n"
    )
    print("| step | median ms | p90 ms |\n|---|---|---|")
    for step in (
        "GET /healthz (baseline)",
        "offer (SMS sent)",
        "credential offer",
        "token",
        "nonce",
        "credential, 1 proof",
    ):
        print(t.row(step))
    print(t.row(f"credential, {args.batch} proofs"))
    print(
        t.row(f"credential, {args.batch} proofs", per=args.batch).replace(
            " proofs |", " proofs, per credential |", 1
        )
    )
    print(t.row("SdJwtVcIssuer.issue alone"))
    print(
        f"\ncredential: {len(credential)} bytes with all {len(disclosures)} disclosures "
        f"(issuer-signed JWT {len(jwt)}); offer link (the QR code's text) {len(link)} characters; "
        f"issuer metadata {len(metadata)} bytes"
    )


if __name__ == "__main__":
    main()
