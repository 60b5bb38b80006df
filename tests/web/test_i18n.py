"""Languages of the pages: catalogs found by folder, complete Hindi, language choice."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from certdist.errors import ConfigurationError
from certdist.web.i18n import LOCALE_DIR, Catalogs
from tests.support.environment import PROJECT_ROOT

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(path: Path, locale: str | None = None) -> dict[object, object]:
    with path.open("rb") as source:
        return {m.id: m.string for m in read_po(source, locale=locale) if m.id}


def test_the_template_lists_every_string_of_the_code(tmp_path: Path) -> None:
    extracted = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "--no-location", "-o", str(extracted), "."],
        cwd=PROJECT_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    shipped = set(_catalog(LOCALE_DIR / "messages.pot"))
    assert set(_catalog(extracted)) == shipped, "run `make messages` and translate"


@pytest.mark.parametrize("language", [p.name for p in LOCALE_DIR.iterdir() if p.is_dir()])
def test_every_catalog_translates_every_string(language: str) -> None:
    template = _catalog(LOCALE_DIR / "messages.pot")
    catalog = _catalog(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", language)
    assert set(catalog) == set(template)
    if language == "en":
        return  # the source language: an empty translation shows the msgid
    for msgid, translated in catalog.items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        texts = translated if isinstance(translated, tuple) else (translated,)
        assert all(texts), f"{language}: no translation for {msgid!r}"
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for text in texts:
            assert set(PLACEHOLDER.findall(str(text))) == wanted, f"{language}: {msgid!r}"


def test_languages_are_the_folders_with_a_catalog(tmp_path: Path) -> None:
    for code in ("en", "ta"):
        folder = tmp_path / code / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(
            'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
            f'msgid "Download"\nmsgstr "{"பதிவிறக்கு" if code == "ta" else ""}"\n',
            encoding="utf-8",
        )
    (tmp_path / "xx").mkdir()  # no catalog: not a language
    catalogs = Catalogs(tmp_path)
    assert catalogs.codes == ("en", "ta")
    assert [language.name for language in catalogs.languages] == ["English", "தமிழ்"]
    assert catalogs.translations("ta").gettext("Download") == "பதிவிறக்கு"
    assert catalogs.translations("en").gettext("Download") == "Download"
    assert catalogs.translations("fr").gettext("Download") == "Download"


def test_the_default_language_needs_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Catalogs(tmp_path)


@pytest.mark.parametrize(
    ("cookie", "accept", "chosen"),
    [
        (None, None, "en"),
        ("hi", "en", "hi"),
        ("xx", "hi", "hi"),
        (None, "hi-IN,hi;q=0.9,en;q=0.8", "hi"),
        (None, "fr;q=1, en;q=0.5, hi;q=0.8", "hi"),
        (None, "hi;q=0, en", "en"),
        (None, "de, fr", "en"),
        (None, "HI", "hi"),
        (None, "hi;q=abc, en", "en"),
    ],
)
def test_the_language_of_a_request(cookie: str | None, accept: str | None, chosen: str) -> None:
    assert Catalogs().choose(cookie, accept) == chosen
