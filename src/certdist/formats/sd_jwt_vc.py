"""SD-JWT VC (IETF SD-JWT, RFC 9901, and the SD-JWT VC draft): a certificate as an
issuer-signed JWT whose personal claims are selectively disclosable, and its verification.

Issuing (:class:`SdJwtVcIssuer`): the header is ``{"typ": "dc+sd-jwt", "alg": "ES256",
"kid": <RFC 7638 thumbprint>}``, signed with the SMART Health Card key (the same P-256 key,
published as the ``jwks`` of ``/.well-known/jwt-vc-issuer``; a key use of its own would need
the key store's rotation and migration changes for no gain in this slice).

Always visible, and nothing personal: ``iss`` (the public URL), ``iat``, ``exp`` (``iat``
plus :data:`VALIDITY`, a year: a wallet asks for a fresh copy, the certificate itself does not
expire), ``vct`` (``{iss}/credentials/vaccination/v1`` or ``{iss}/credentials/lab-test/v1``:
the kind, and where the type metadata will be served), ``_sd_alg``, ``cnf.jwk`` when the
holder's key is given, ``status`` (``{"status_list": {"idx", "uri"}}``) when a status list
entry is given, and ``rid``: an opaque revocation reference the issuer seals (the service
encrypts the certificate id with a random nonce, so every copy carries a different one and
only our verifier can read it; this module never sees the key).

Selectively disclosable, each with its own 128-bit salt: ``name``, ``birthdate``, and
``vaccinations`` (every dose an array-element disclosure, each of its fields a disclosure of
its own: ``vaccine``, ``date``, ``dose``, ``total_doses``, ``batch``, ``facility``) or
``test`` (``disease``, ``type``, ``name``, ``manufacturer``, ``sample_collected``,
``result``, ``facility``). Every ``_sd`` array is padded with decoy digests to a multiple of
:data:`DIGEST_BUCKET` (at least one decoy), so the number of claims shows only roughly.

Every call issues a new copy: new salts, decoys and ``rid``. Copies for batch issuance
(unlinkable presentations) are :meth:`SdJwtVcIssuer.issue_batch`.

Verifying (:func:`verify_presentation`): ``<jwt>~<disclosure>~…~[<kb-jwt>]``: the header's
``typ`` and ``alg``, the signature against the keys trusted for ``(iss, kid)``, ``exp``;
every disclosure must be referenced exactly once by a digest (an unknown, tampered or
repeated disclosure, or a digest seen twice, makes it invalid); the disclosed claims are
rebuilt and nothing undisclosed is kept. A Key Binding JWT (``typ: kb+jwt``) is checked
against ``cnf.jwk``: signature, ``sd_hash``, ``iat`` and, when the verifier expects them,
``aud`` and ``nonce``. Without one the result says the holder binding was not shown; a
verifier that requires it checks :attr:`VerifiedSdJwtVc.holder_bound`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from certdist.domain.models import TEST, VACCINATION
from certdist.errors import InvalidInput, MalformedCertificate, VerificationError
from certdist.formats.lab_test import is_lab_test, lab_test_of, utc_text
from certdist.formats.registry import CertificateBundle
from certdist.formats.shc import check_es256, numeric_date, positive_int
from certdist.signing.holder_keys import HOLDER_ALGORITHMS, holder_key
from certdist.signing.jose import (
    b64url,
    b64url_decode,
    compact_json,
    es256_sign,
    split_compact_jws,
    thumbprint,
)
from certdist.signing.keys import PublicKey, SigningKey

TYP: Final = "dc+sd-jwt"
KB_TYP: Final = "kb+jwt"
MEDIA_TYPE: Final = "application/dc+sd-jwt"
SD_ALG: Final = "sha-256"
VALIDITY: Final = timedelta(days=365)
#: Salts are 128 bits (RFC 9901 recommends at least that much entropy).
SALT_BYTES: Final = 16
DIGEST_BUCKET: Final = 4
#: The ``vct`` of each kind, under the issuer's URL.
VCT_PATHS: Final = {
    VACCINATION: "credentials/vaccination/v1",
    TEST: "credentials/lab-test/v1",
}
ENTITY_TYPES: Final = frozenset(VCT_PATHS)
_CLOCK_SKEW: Final = timedelta(minutes=5)
#: How old a Key Binding JWT may be when the verifier did not send a nonce of its own.
KB_MAX_AGE: Final = timedelta(minutes=10)
_RESERVED: Final = frozenset({"_sd", "...", "_sd_alg"})


# --- disclosures -----------------------------------------------------------------------------


def _salt() -> str:
    return b64url(secrets.token_bytes(SALT_BYTES))


def digest_of(disclosure: str) -> str:
    """The SHA-256 digest of a disclosure (over its base64url text, as RFC 9901 says)."""
    return b64url(hashlib.sha256(disclosure.encode("ascii")).digest())


def _encode(parts: list[Any]) -> str:
    return b64url(compact_json(parts))


class _Builder:
    """Collects the disclosures of one credential while its payload is built."""

    def __init__(self) -> None:
        self.disclosures: list[str] = []

    def object(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """An object whose every claim (value not ``None``) is a disclosure."""
        digests = []
        for name, value in claims.items():
            if value is None or value == "":
                continue
            disclosure = _encode([_salt(), name, value])
            self.disclosures.append(disclosure)
            digests.append(digest_of(disclosure))
        return {"_sd": _with_decoys(digests)}

    def element(self, value: Any) -> dict[str, str]:
        """An array element as a disclosure: ``{"...": digest}``."""
        disclosure = _encode([_salt(), value])
        self.disclosures.append(disclosure)
        return {"...": digest_of(disclosure)}


def _with_decoys(digests: list[str]) -> list[str]:
    count = len(digests) + 1
    padded = digests + [
        b64url(hashlib.sha256(secrets.token_bytes(SALT_BYTES)).digest())
        for _ in range(-(-count // DIGEST_BUCKET) * DIGEST_BUCKET - len(digests))
    ]
    # Sorted digests reveal nothing of the claims' order (or which are decoys).
    return sorted(padded)


# --- issuing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusReference:
    """A Token Status List entry: the list's URI and this credential's index in it."""

    uri: str
    idx: int


class SdJwtVcIssuer:
    """Issues SD-JWT VCs as ``iss`` (the public URL) with ``key`` (P-256).

    ``revocation_ref`` seals a certificate id into the always-visible ``rid``; ``now`` is the
    clock.
    """

    def __init__(
        self,
        issuer: str,
        key: SigningKey,
        *,
        revocation_ref: Callable[[str], str],
        now: Callable[[], datetime],
        validity: timedelta = VALIDITY,
    ) -> None:
        if not isinstance(key.private_key, ec.EllipticCurvePrivateKey):
            raise ValueError("an SD-JWT VC key must be EC P-256")
        self.issuer = issuer.rstrip("/")
        self.key = key
        self.kid = thumbprint(key.private_key.public_key())
        self._private = key.private_key
        self._revocation_ref = revocation_ref
        self._now = now
        self._validity = validity

    def vct(self, entity_type: str) -> str:
        return f"{self.issuer}/{VCT_PATHS[entity_type]}"

    def issue(
        self,
        bundle: CertificateBundle,
        *,
        holder_jwk: Mapping[str, Any] | None = None,
        status: StatusReference | None = None,
    ) -> str:
        """One copy: ``<issuer-jwt>~<disclosure>~…~``."""
        builder = _Builder()
        if is_lab_test(bundle.credential):
            kind, personal = TEST, _test_claims(bundle, builder)
        else:
            kind, personal = VACCINATION, _vaccination_claims(bundle, builder)
        issued = self._now()
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "iat": int(issued.timestamp()),
            "exp": int((issued + self._validity).timestamp()),
            "vct": self.vct(kind),
            "rid": self._revocation_ref(bundle.latest.certificate_id),
            **personal,
            "_sd_alg": SD_ALG,
        }
        if holder_jwk is not None:
            payload["cnf"] = {"jwk": _holder_jwk(holder_jwk)}
        if status is not None:
            payload["status"] = {"status_list": {"idx": status.idx, "uri": status.uri}}
        header = {"typ": TYP, "alg": "ES256", "kid": self.kid}
        jwt = sign_jwt(header, payload, self._private)
        return "~".join([jwt, *builder.disclosures, ""])

    def issue_batch(
        self,
        bundle: CertificateBundle,
        holder_jwks: Sequence[Mapping[str, Any] | None],
        *,
        status: StatusReference | None = None,
        statuses: Sequence[StatusReference] | None = None,
    ) -> list[str]:
        """One copy per holder key (or ``None``), each with its own salts and ``rid``.

        ``statuses``: one Token Status List entry per copy (the copies must not share an
        index, or their ``status`` links them); ``status`` gives every copy the same one.
        """
        if statuses is None:
            statuses = [status] * len(holder_jwks) if status is not None else None
        elif status is not None or len(statuses) != len(holder_jwks):
            raise ValueError("give one status per holder key, or status alone")
        return [
            self.issue(bundle, holder_jwk=jwk, status=statuses[n] if statuses else None)
            for n, jwk in enumerate(holder_jwks)
        ]


def sign_jwt(header: Mapping[str, Any], payload: Mapping[str, Any], key: Any) -> str:
    """A compact ES256 JWS of JSON ``payload``."""
    signing_input = f"{b64url(compact_json(dict(header)))}.{b64url(compact_json(dict(payload)))}"
    return f"{signing_input}.{b64url(es256_sign(key, signing_input.encode('ascii')))}"


def _holder_jwk(jwk: Mapping[str, Any]) -> dict[str, str]:
    # Only public members are bound; a private one given by mistake is never published.
    public = {name: value for name, value in jwk.items() if name != "d"}
    try:
        return holder_key(public).jwk
    except ValueError as error:
        raise InvalidInput(f"holder key: {error}") from None


def _name_and_birthdate(bundle: CertificateBundle) -> dict[str, Any]:
    subject = bundle.credential.get("credentialSubject") or {}
    dob = bundle.latest.dob
    return {"name": subject.get("name"), "birthdate": dob.isoformat() if dob else None}


def _vaccination_claims(bundle: CertificateBundle, builder: _Builder) -> dict[str, Any]:
    credentials = bundle.dose_credentials or [bundle.credential]
    doses = [(c.get("evidence") or [{}])[0] for c in credentials]
    if not all("Vaccination" in (e.get("type") or []) for e in doses):
        raise InvalidInput("an SD-JWT VC is issued for vaccination and lab-test certificates only")
    doses.sort(key=lambda e: (positive_int(e.get("dose")) or 0, str(e.get("date", ""))))
    vaccinations = [
        builder.element(
            builder.object(
                {
                    "vaccine": _text(e.get("vaccine")),
                    "date": _text(e.get("date"))[:10],
                    "dose": positive_int(e.get("dose")),
                    "total_doses": positive_int(e.get("totalDoses")),
                    "batch": _text(e.get("batch")),
                    "facility": _text((e.get("facility") or {}).get("name")),
                }
            )
        )
        for e in doses
    ]
    # The doses array itself is disclosable too: without it nothing says how many there are.
    return builder.object({**_name_and_birthdate(bundle), "vaccinations": vaccinations})


def _test_claims(bundle: CertificateBundle, builder: _Builder) -> dict[str, Any]:
    test = lab_test_of(bundle.credential)
    details = builder.object(
        {
            "disease": test.disease,
            "type": test.test_type,
            "name": test.test_name,
            "manufacturer": test.manufacturer,
            "sample_collected": utc_text(test.sample_collected),
            "result": test.result,
            "facility": test.facility,
        }
    )
    return builder.object({**_name_and_birthdate(bundle), "test": details})


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedSdJwtVc:
    """A presentation whose issuer signature and disclosures hold.

    ``claims`` are the always-visible claims and the disclosed ones only; ``holder_bound``
    says a Key Binding JWT signed by the ``cnf`` key was checked.
    """

    issuer: str
    kid: str
    vct: str
    claims: dict[str, Any]
    issued_at: datetime | None
    expires_at: datetime | None
    holder_bound: bool
    rid: str | None


@dataclass(frozen=True)
class KeyBindingPolicy:
    """What a verifier expects of the Key Binding JWT (``None``: not checked)."""

    audience: str | None = None
    nonce: str | None = None
    max_age: timedelta = KB_MAX_AGE


def verify_presentation(
    text: str,
    keys_for: Callable[[str, str], Sequence[PublicKey]],
    now: datetime,
    policy: KeyBindingPolicy | None = None,
) -> VerifiedSdJwtVc:
    """Verify an SD-JWT VC (issued form or presentation) at ``now`` (see the module doc)."""
    policy = policy or KeyBindingPolicy()
    parts = text.strip().split("~")
    if len(parts) < 2:
        raise MalformedCertificate("sd-jwt: no '~' after the issuer-signed JWT")
    jwt, disclosures, kb_jwt = parts[0], parts[1:-1], parts[-1]
    header, payload, signing_input, signature = decode_jws(jwt, "issuer-signed JWT")
    if header.get("typ") != TYP:
        raise MalformedCertificate(f'header: the type must be "{TYP}"')
    if header.get("alg") != "ES256":
        raise MalformedCertificate("header: the algorithm must be ES256")
    kid, issuer = header.get("kid"), payload.get("iss")
    if not isinstance(kid, str) or not kid:
        raise MalformedCertificate("header: no key id (kid)")
    if not isinstance(issuer, str) or not issuer:
        raise MalformedCertificate("payload: no issuer (iss)")
    check_es256(keys_for(issuer, kid), issuer, kid, signing_input, signature)
    issued_at, expires_at = (
        numeric_date(payload.get("iat"), "iat"),
        numeric_date(payload.get("exp"), "exp"),
    )
    if expires_at is not None and now > expires_at:
        raise VerificationError("expiry: the credential has expired")
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise MalformedCertificate("payload: only the sha-256 digest algorithm is supported")
    vct = payload.get("vct")
    if not isinstance(vct, str) or not vct:
        raise MalformedCertificate("payload: no credential type (vct)")
    claims = _Disclosed(disclosures).rebuild(payload)
    claims.pop("_sd_alg", None)
    holder_bound = False
    if kb_jwt:
        _check_key_binding(kb_jwt, "~".join([jwt, *disclosures, ""]), payload, now, policy)
        holder_bound = True
    rid = payload.get("rid")
    return VerifiedSdJwtVc(
        issuer=issuer,
        kid=kid,
        vct=vct,
        claims=claims,
        issued_at=issued_at,
        expires_at=expires_at,
        holder_bound=holder_bound,
        rid=rid if isinstance(rid, str) else None,
    )


class _Disclosed:
    """The presented disclosures by digest; each must be used exactly once."""

    def __init__(self, disclosures: Sequence[str]) -> None:
        self._by_digest: dict[str, list[Any]] = {}
        for disclosure in disclosures:
            digest = digest_of(disclosure) if disclosure.isascii() else ""
            if digest in self._by_digest:
                raise VerificationError("disclosures: the same disclosure is presented twice")
            self._by_digest[digest] = _decode_disclosure(disclosure)
        self._seen: set[str] = set()

    def rebuild(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        claims = self._object(dict(payload))
        unused = set(self._by_digest) - self._seen
        if unused:
            raise VerificationError(
                "disclosures: a disclosure is not referenced by the signed credential "
                "(tampered or from another credential)"
            )
        return claims

    def _note(self, digest: object) -> list[Any] | None:
        if not isinstance(digest, str):
            raise MalformedCertificate("payload: a digest is not a string")
        if digest in self._seen:
            raise VerificationError("payload: a digest appears more than once")
        self._seen.add(digest)
        return self._by_digest.get(digest)

    def _value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self._object(value)
        if isinstance(value, list):
            return self._array(value)
        return value

    def _object(self, value: dict[str, Any]) -> dict[str, Any]:
        digests = value.pop("_sd", [])
        if not isinstance(digests, list):
            raise MalformedCertificate("payload: _sd is not an array")
        out = {name: self._value(item) for name, item in value.items()}
        for digest in digests:
            disclosure = self._note(digest)
            if disclosure is None:
                continue
            if len(disclosure) != 3:
                raise VerificationError("disclosures: an array element disclosed as a claim")
            _, name, item = disclosure
            if not isinstance(name, str) or name in _RESERVED or name in out:
                raise VerificationError(f"disclosures: the claim name {name!r} is not allowed")
            out[name] = self._value(item)
        return out

    def _array(self, value: list[Any]) -> list[Any]:
        out = []
        for item in value:
            if isinstance(item, dict) and set(item) == {"..."}:
                disclosure = self._note(item["..."])
                if disclosure is None:
                    continue
                if len(disclosure) != 2:
                    raise VerificationError("disclosures: a claim disclosed as an array element")
                out.append(self._value(disclosure[1]))
            else:
                out.append(self._value(item))
        return out


def _decode_disclosure(disclosure: str) -> list[Any]:
    try:
        decoded = json.loads(b64url_decode(disclosure))
    except (ValueError, RecursionError):
        raise MalformedCertificate("disclosures: a disclosure is not base64url JSON") from None
    if not isinstance(decoded, list) or len(decoded) not in (2, 3):
        raise MalformedCertificate("disclosures: a disclosure is not an array of 2 or 3")
    if not isinstance(decoded[0], str):
        raise MalformedCertificate("disclosures: a disclosure's salt is not a string")
    return decoded


def _check_key_binding(
    kb_jwt: str, presented: str, payload: Mapping[str, Any], now: datetime, policy: KeyBindingPolicy
) -> None:
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, Mapping) else None
    if not isinstance(jwk, Mapping):
        raise VerificationError("key binding: the credential names no holder key (cnf.jwk)")
    header, claims, signing_input, signature = decode_jws(kb_jwt, "key binding JWT")
    if header.get("typ") != KB_TYP or header.get("alg") not in HOLDER_ALGORITHMS:
        raise MalformedCertificate(
            f'key binding: the header must be "{KB_TYP}" with one of {", ".join(HOLDER_ALGORITHMS)}'
        )
    try:
        holder = holder_key(dict(jwk))
    except ValueError as error:
        raise MalformedCertificate(f"key binding: the credential's cnf: {error}") from None
    if not holder.verifies(header["alg"], signing_input, signature):
        raise VerificationError("key binding: not signed by the holder's key")
    expected = b64url(hashlib.sha256(presented.encode("ascii")).digest())
    if claims.get("sd_hash") != expected:
        raise VerificationError("key binding: sd_hash does not match the presentation")
    issued = numeric_date(claims.get("iat"), "key binding iat")
    if issued is None or issued > now + _CLOCK_SKEW:
        raise VerificationError("key binding: iat is missing or in the future")
    if policy.nonce is None and now - issued > policy.max_age:
        raise VerificationError("key binding: the presentation is too old")
    for name, want in (("aud", policy.audience), ("nonce", policy.nonce)):
        got = claims.get(name)
        if not isinstance(got, str) or not got:
            raise MalformedCertificate(f"key binding: no {name}")
        if want is not None and got != want:
            raise VerificationError(f"key binding: {name} is not the one expected")


def decode_jws(text: str, what: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """A compact JWS with JSON header and payload: ``(header, payload, signing input,
    signature)``; ``MalformedCertificate`` naming ``what`` otherwise."""
    try:
        return split_compact_jws(text)
    except ValueError as error:
        raise MalformedCertificate(f"{what}: {error}") from None
