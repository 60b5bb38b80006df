"""The signed W3C credential itself, byte for byte as it was signed (DIVOC's JSON)."""

from __future__ import annotations

from certdist.formats.registry import CertificateBundle


class SignedCredentialFormat:
    name = "json"
    media_type = "application/json"
    extension = "json"
    entity_types: frozenset[str] | None = None  # the signed credential, whatever its kind
    version = "vc-1"

    def render(self, bundle: CertificateBundle) -> bytes:
        return bundle.latest.certificate.encode("utf-8")
