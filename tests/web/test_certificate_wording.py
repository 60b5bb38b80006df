"""What the pages say about a certificate, in English and Hindi: a booster reads "3 (booster)",
not "3 of 2" or "3 / 2", and the age is labelled as the age at vaccination (DIVOC computes it
against the vaccination date, so it is not the person's age today)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from certdist.domain.certificate_view import ID_TYPES, CertificateView
from certdist.web.certificate_words import document_types, identity_text
from certdist.web.i18n import Catalogs
from certdist.web.routes.verify import OutcomeWords, outcome_words
from certdist.web.templating import Templates
from tests.support.credentials import make_credential, make_test_credential

WORDS = {
    "en": {"booster": "3 (booster)", "age": "Age at vaccination"},
    "hi": {"booster": "3 (बूस्टर)", "age": "टीकाकरण के समय आयु"},
}


def render(template: str, lang: str, **context: Any) -> str:
    templates = Templates(Catalogs(), secure_cookies=False)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"cookie", f"lang={lang}".encode())],
        "server": ("testserver", 80),
        "scheme": "http",
    }
    return bytes(templates.render(Request(scope), template, context).body).decode()


def facts(lang: str, dose: int, total: int) -> str:
    view = CertificateView.from_credentials(
        make_credential(dose=dose, total=total), [], qr_payload=b""
    )
    certificate = SimpleNamespace(view=view, pre_enrollment_code="BEN0001")
    return render("_certificate_facts.html", lang, certificate=certificate)


def outcome(lang: str, dose: int, total: int) -> str:
    answer = {
        "status": "valid",
        "code": "valid",
        "reason": "",
        "certificate": {"name": "Bhaya Mitra", "age": "34", "dose": dose, "total_doses": total},
    }
    return render("verify_outcome.html", lang, outcome=answer, words=_words(lang))


def _words(lang: str) -> dict[str, OutcomeWords]:
    return outcome_words(Catalogs().translations(lang).gettext)


@pytest.mark.parametrize("lang", list(WORDS))
def test_the_portal_calls_a_booster_a_booster(lang: str) -> None:
    html = facts(lang, 3, 2)
    assert f"<dd>{WORDS[lang]['booster']}</dd>" in html
    assert "3 of 2" not in html
    translated_series = Catalogs().translations(lang).gettext("%(dose)s of %(total)s")
    assert f"<dd>{translated_series % {'dose': 1, 'total': 2}}</dd>" in facts(lang, 1, 2)


@pytest.mark.parametrize("lang", list(WORDS))
def test_the_verifier_calls_a_booster_a_booster(lang: str) -> None:
    assert f'<dd data-field="doses">{WORDS[lang]["booster"]}</dd>' in outcome(lang, 3, 2)
    assert '<dd data-field="doses">1 / 2</dd>' in outcome(lang, 1, 2)
    assert '<dd data-field="doses">2 / 2</dd>' in outcome(lang, 2, 2)


@pytest.mark.parametrize("lang", list(WORDS))
def test_the_age_is_the_age_at_vaccination(lang: str) -> None:
    label = WORDS[lang]["age"]
    assert f"<dt>{label}</dt><dd>34</dd>" in facts(lang, 1, 2)
    assert f"<dt>{label}</dt>" in outcome(lang, 1, 2)


@pytest.mark.parametrize("lang", list(WORDS))
def test_the_camera_script_gets_the_booster_words(lang: str) -> None:
    """verify.js fills the same field after a camera scan, with the words the page gives it."""
    booster = WORDS[lang]["booster"].replace("3", "{dose}")
    page = render("verify.html", lang, words=_words(lang), error=None)
    assert f'data-msg-booster="{booster}"' in page


def test_the_facts_say_the_certificates_words_in_the_readers_language() -> None:
    vaccination = facts("hi", 1, 2)
    assert "<dd>महिला</dd>" in vaccination  # "Female"
    assert "<dd>आधार XXXXXXXX3334</dd>" in vaccination  # "Aadhaar XXXXXXXX3334"
    assert "<dd>2 मई 2021</dd>" in vaccination  # "02 May 2021"
    view = CertificateView.from_credentials(make_test_credential(), [], qr_payload=b"")
    certificate = SimpleNamespace(view=view, pre_enrollment_code="LAB0001")
    test = render("_certificate_facts.html", "hi", certificate=certificate)
    assert "<dd>मॉलिक्यूलर जाँच (RT-PCR) – Real Time PCR</dd>" in test
    assert "<dd>नेगेटिव</dd>" in test  # "Negative"
    assert "<dt>जाँच के समय आयु</dt>" in test  # the age on the day of the sample
    assert 'datetime="2021-09-01T05:30:00Z"' in test  # the sample's moment, not its text
    english = render("_certificate_facts.html", "en", certificate=certificate)
    assert "<dd>Molecular test (RT-PCR) – Real Time PCR</dd>" in english
    assert "<dd>Negative</dd>" in english


def test_every_identity_document_type_has_its_words() -> None:
    names = document_types(lambda text: text)
    assert set(names) >= set(ID_TYPES.values())
    assert identity_text("Voter ID XXXXXX1234", lambda text: text.upper()) == "VOTER ID XXXXXX1234"
    assert identity_text("XXXXXX1234", str.upper) == "XXXXXX1234"
    assert identity_text("Ration Card XX1234", str.upper) == "Ration Card XX1234"
