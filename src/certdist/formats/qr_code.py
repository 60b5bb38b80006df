"""The DIVOC QR code as a PNG image: the ZIP payload of the signed credential."""

from __future__ import annotations

from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.qr_image import qr_png
from certdist.formats.registry import CertificateBundle


class DivocQrFormat:
    name = "qr"
    media_type = "image/png"
    extension = "png"
    entity_types: frozenset[str] | None = None  # the signed credential, whatever its kind

    def __init__(self, *, form: PayloadForm = "zip", module_px: int = 4) -> None:
        self._form = form
        self._module_px = module_px

    @property
    def version(self) -> str:
        return f"qr-1/{self._form}/{self._module_px}"

    def render(self, bundle: CertificateBundle) -> bytes:
        payload = encode_payload(bundle.latest.certificate, form=self._form)
        return qr_png(payload, module_px=self._module_px)
