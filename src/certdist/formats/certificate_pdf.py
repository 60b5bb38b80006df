"""The printable certificate: view built from the credentials, drawn by the PDF renderer."""

from __future__ import annotations

from certdist.domain.certificate_view import CertificateView
from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.pdf import PdfRenderer
from certdist.formats.registry import CertificateBundle


class CertificatePdfFormat:
    name = "pdf"
    media_type = "application/pdf"
    extension = "pdf"
    entity_types: frozenset[str] | None = None  # the PDF template draws every kind

    def __init__(self, renderer: PdfRenderer, *, form: PayloadForm = "zip") -> None:
        self._renderer = renderer
        self._form = form

    @property
    def version(self) -> str:
        return f"pdf/{self._renderer.template_version}/{self._form}"

    def render(self, bundle: CertificateBundle) -> bytes:
        view = CertificateView.from_credentials(
            bundle.credential,
            bundle.dose_credentials,
            qr_payload=encode_payload(bundle.latest.certificate, form=self._form),
        )
        return self._renderer.render(view)
