"""The words of a certificate that the pages say in the reader's language.

A certificate carries some values as English words: the gender (``Female``), the kind of lab
test (``RAT``, ``RT-PCR``), its result (``Negative``) and the identity document's type in the
masked id (``Passport XXXXXX1234``). They are the data of the certificate, but a page in
Hindi must not show them in English, so the templates pass them through the filters
``gender``, ``test_type``, ``test_result`` and ``identity`` (``web/templating.py``), which
use the functions here. A value not known here is shown as the certificate writes it: a
deployment's own wording is better shown than guessed.
"""

from __future__ import annotations

from collections.abc import Callable

from certdist.domain.codes import NAAT, NEGATIVE, POSITIVE, RAPID_ANTIGEN

Gettext = Callable[[str], str]


def _key(value: str) -> str:
    return " ".join(value.split()).casefold()


def gender_text(value: str, _: Gettext) -> str:
    """DIVOC's genders (``Male``, ``Female``, ``Other``; a single letter in some feeds)."""
    words = {
        "female": _("Female"),
        "f": _("Female"),
        "male": _("Male"),
        "m": _("Male"),
        "other": _("Other"),
        "o": _("Other"),
        "transgender": _("Transgender"),
    }
    return words.get(_key(value), value)


def lab_test_type_text(value: str, _: Gettext) -> str:
    """The kind of lab test, by the texts DIVOC requests name it with (``domain.codes``)."""
    for kind, words in (
        (NAAT, _("Molecular test (RT-PCR)")),
        (RAPID_ANTIGEN, _("Rapid antigen test")),
    ):
        if _key(value) in {_key(text) for text in kind.texts}:
            return words
    return value


def lab_test_result_text(value: str, _: Gettext) -> str:
    """A lab test's result (``Negative`` or ``Not detected``, ``Positive`` or ``Detected``)."""
    for outcome, words in ((NEGATIVE, _("Negative")), (POSITIVE, _("Positive"))):
        if _key(value) in {_key(text) for text in outcome.texts}:
            return words
    return value


def identity_text(value: str, _: Gettext) -> str:
    """A masked identity (``Passport XXXXXX1234``) with its document type translated (the
    types of ``domain.certificate_view.ID_TYPES``; a test checks that each has its words)."""
    names = document_types(_)
    kind, _space, number = value.rpartition(" ")
    if kind in names:
        return f"{names[kind]} {number}"
    return value


def document_types(_: Gettext) -> dict[str, str]:
    """The identity document types a view names, each with its words."""
    return {
        "Aadhaar": _("Aadhaar"),
        "Passport": _("Passport"),
        "PAN": _("PAN"),
        "Driving Licence": _("Driving Licence"),
        "Voter ID": _("Voter ID"),
        "NPR Smart Card": _("NPR Smart Card"),
        "Pension Passbook": _("Pension Passbook"),
        "National ID": _("National ID"),
    }
