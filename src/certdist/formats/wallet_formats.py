"""The health-wallet formats behind the one :class:`CertificateFormat` protocol.

| name | what |
|---|---|
| ``shc`` | SMART Health Card QR (PNG) |
| ``shc-pdf`` | the certificate PDF with the SMART Health Card QR |
| ``shc-file`` | ``.smart-health-card`` file |
| ``eu-dcc`` | EU DCC QR (PNG), names derived from the credential |
| ``eu-dcc-pdf`` | the certificate PDF with the EU DCC QR |
| ``fhir`` | DDCC:VS FHIR document bundle, signed |

The SMART Health Card and EU DCC formats render vaccination and lab-test certificates; the
DDCC:VS bundle vaccination certificates only (``entity_types``).

The EU DCC formats also render with names a person supplied (:meth:`render_named`); those
documents are built per request and never cached, since they depend on the request body.
"""

from __future__ import annotations

import json

from certdist.domain.certificate_view import CertificateView
from certdist.formats import eu_dcc, fhir, shc
from certdist.formats.eu_dcc import DccIssuer, DccNames, hc1_matrix
from certdist.formats.fhir import FhirDocumentIssuer
from certdist.formats.pdf import PdfRenderer
from certdist.formats.qr_image import QrMatrix, matrix_png
from certdist.formats.registry import CertificateBundle
from certdist.formats.shc import MEDIA_TYPE, ShcIssuer, card_file, qr_matrix_of, qr_text

_MODULE_PX = 4


def _pdf(renderer: PdfRenderer, bundle: CertificateBundle, text: str, matrix: QrMatrix) -> bytes:
    view = CertificateView.from_credentials(
        bundle.credential, bundle.dose_credentials, qr_payload=text.encode("ascii")
    )
    return renderer.render(view, matrix=matrix)


class ShcQrFormat:
    name = "shc"
    media_type = "image/png"
    extension = "png"
    entity_types = shc.ENTITY_TYPES

    def __init__(self, issuer: ShcIssuer) -> None:
        self._issuer = issuer

    @property
    def version(self) -> str:
        return f"{self._issuer.version}/qr/{_MODULE_PX}"

    def render(self, bundle: CertificateBundle) -> bytes:
        return matrix_png(qr_matrix_of(self._issuer.jws(bundle)), module_px=_MODULE_PX)


class ShcPdfFormat:
    name = "shc-pdf"
    media_type = "application/pdf"
    extension = "pdf"
    entity_types = shc.ENTITY_TYPES

    def __init__(self, issuer: ShcIssuer, renderer: PdfRenderer) -> None:
        self._issuer = issuer
        self._renderer = renderer

    @property
    def version(self) -> str:
        return f"{self._issuer.version}/pdf/{self._renderer.template_version}"

    def render(self, bundle: CertificateBundle) -> bytes:
        jws = self._issuer.jws(bundle)
        return _pdf(self._renderer, bundle, qr_text(jws), qr_matrix_of(jws))


class ShcFileFormat:
    name = "shc-file"
    media_type = MEDIA_TYPE
    extension = "smart-health-card"
    entity_types = shc.ENTITY_TYPES

    def __init__(self, issuer: ShcIssuer) -> None:
        self._issuer = issuer

    @property
    def version(self) -> str:
        return f"{self._issuer.version}/file"

    def render(self, bundle: CertificateBundle) -> bytes:
        return card_file([self._issuer.jws(bundle)])


class EuDccQrFormat:
    name = "eu-dcc"
    media_type = "image/png"
    extension = "png"
    entity_types = eu_dcc.ENTITY_TYPES

    def __init__(self, issuer: DccIssuer) -> None:
        self._issuer = issuer

    @property
    def version(self) -> str:
        return f"{self._issuer.version}/qr/{_MODULE_PX}"

    def render(self, bundle: CertificateBundle) -> bytes:
        return self.render_named(bundle, None)

    def render_named(self, bundle: CertificateBundle, names: DccNames | None) -> bytes:
        return matrix_png(hc1_matrix(self._issuer.hc1(bundle, names)), module_px=_MODULE_PX)


class EuDccPdfFormat:
    name = "eu-dcc-pdf"
    media_type = "application/pdf"
    extension = "pdf"
    entity_types = eu_dcc.ENTITY_TYPES

    def __init__(self, issuer: DccIssuer, renderer: PdfRenderer) -> None:
        self._issuer = issuer
        self._renderer = renderer

    @property
    def version(self) -> str:
        return f"{self._issuer.version}/pdf/{self._renderer.template_version}"

    def render(self, bundle: CertificateBundle) -> bytes:
        return self.render_named(bundle, None)

    def render_named(self, bundle: CertificateBundle, names: DccNames | None) -> bytes:
        text = self._issuer.hc1(bundle, names)
        return _pdf(self._renderer, bundle, text, hc1_matrix(text))


class FhirFormat:
    name = "fhir"
    media_type = "application/fhir+json"
    extension = "json"
    entity_types = fhir.ENTITY_TYPES

    def __init__(self, issuer: FhirDocumentIssuer) -> None:
        self._issuer = issuer

    @property
    def version(self) -> str:
        return self._issuer.version

    def render(self, bundle: CertificateBundle) -> bytes:
        return json.dumps(self._issuer.document(bundle), ensure_ascii=False).encode("utf-8")
