"""The verifier: is this certificate genuine, current and not revoked?

Input is whatever a person or a scanner has: a QR payload (DIVOC's ZIP in either byte form,
``HC1:…``, ``shc:/…``), a compact JWS, a ``.smart-health-card`` file, a DIVOC signed
credential as JSON, a signed WHO DDCC:VS FHIR ``Bundle`` (``certdist export --format fhir``),
a photo (PNG, JPEG, WebP) of any of those QR codes, or a PDF with one on its first pages
(:mod:`.pdf`). The verifier recognises the kind (:mod:`.detect`), checks the signature
against the :class:`~certdist.signing.trust.TrustStore` and the expiry (:mod:`.divoc`,
:mod:`.eu_dcc`, :mod:`.shc`, :mod:`.fhir`), and, for certificates this service issued, our
revocation list (a revoked certificate, or one replaced by a correction, is "revoked").

It answers with a :class:`VerifiedCertificate` (:mod:`.view`): only what a verifier needs to
match the certificate to the person in front of them (name, date of birth or age, vaccine,
doses, date, issuer); never phone numbers, identity numbers or addresses.

Two entry points (:mod:`.verifier`):

* :meth:`Verifier.verify` returns the view or raises a
  :class:`~certdist.errors.VerificationError` subclass (``CertificateRevoked``,
  ``CertificateExpired``, ``CertificateNotYetValid``, ``UnknownKey``,
  ``MalformedCertificate`` for a known form that cannot be decoded, or the base class for a
  bad signature), and :class:`~certdist.errors.InvalidInput` for input that is no known
  certificate form.
* :meth:`Verifier.check` returns a :class:`VerificationOutcome` (:mod:`.outcome`: status,
  reason, and the view when the signature held) for screens that show every result the same
  way; it still raises ``InvalidInput`` for unreadable input.
"""

from certdist.services.verification.detect import (
    NO_QR_CODE,
    ImageLimits,
    InputKind,
    classify,
    scan_image,
    shc_numeric_to_jws,
)
from certdist.services.verification.divoc import check_divoc, divoc_view
from certdist.services.verification.eu_dcc import check_hc1, dcc_view
from certdist.services.verification.fhir import check_fhir, fhir_view
from certdist.services.verification.outcome import (
    Examined,
    OutcomeCode,
    Status,
    VerificationOutcome,
)
from certdist.services.verification.pdf import NO_QR_CODE_IN_PDF, PdfLimits, scan_pdf
from certdist.services.verification.shc import check_shc, shc_view
from certdist.services.verification.trust import build_trust_store
from certdist.services.verification.verifier import (
    FormatCheckers,
    OwnCardRevocations,
    Verifier,
)
from certdist.services.verification.view import CertificateFormat, VerifiedCertificate
from certdist.services.verification.wiring import wire

__all__ = [
    "NO_QR_CODE",
    "NO_QR_CODE_IN_PDF",
    "CertificateFormat",
    "Examined",
    "FormatCheckers",
    "ImageLimits",
    "InputKind",
    "OutcomeCode",
    "OwnCardRevocations",
    "PdfLimits",
    "Status",
    "VerificationOutcome",
    "VerifiedCertificate",
    "Verifier",
    "build_trust_store",
    "check_divoc",
    "check_fhir",
    "check_hc1",
    "check_shc",
    "classify",
    "dcc_view",
    "divoc_view",
    "fhir_view",
    "scan_image",
    "scan_pdf",
    "shc_numeric_to_jws",
    "shc_view",
    "wire",
]
