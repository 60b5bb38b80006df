"""Languages of the HTML pages: Babel catalogs compiled in memory, and the choice per request.

Catalogs live in ``web/locale/<lang>/LC_MESSAGES/messages.po``; every folder there with such
a file is a language, so adding a language is adding a catalog (``make messages`` extracts the
strings into ``messages.pot``; ``pybabel init`` starts a new ``.po`` from it). The ``.po``
files are compiled at start-up, in memory, so no binary ``.mo`` file is ever committed.

The language of a request is, in order: the ``lang`` cookie (set by the language switch),
the best match of ``Accept-Language``, the default (English).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from certdist.errors import ConfigurationError

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGE_COOKIE = "lang"
DEFAULT_LANGUAGE = "en"
DOMAIN = "messages"


@dataclass(frozen=True)
class Language:
    code: str  # a BCP 47 tag as used in ``<html lang>`` and the cookie, e.g. ``hi``
    name: str  # the language's name in itself (what a speaker looks for in a switch)


class Catalogs:
    """Every language found under ``directory``, each with its compiled translations."""

    def __init__(self, directory: Path = LOCALE_DIR, default: str = DEFAULT_LANGUAGE) -> None:
        self._translations: dict[str, Translations] = {}
        for po_file in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            code = po_file.parent.parent.name
            self._translations[code] = _compile(po_file, code)
        if default not in self._translations:
            raise ConfigurationError(f"no catalog for the default language {default!r}")
        self.default = default
        self.languages = tuple(
            Language(code, _own_name(code)) for code in sorted(self._translations)
        )

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(language.code for language in self.languages)

    def translations(self, code: str) -> Translations:
        return self._translations.get(code) or self._translations[self.default]

    def choose(self, cookie: str | None, accept_language: str | None) -> str:
        """The language for a request: a known cookie value, else Accept-Language, else the
        default."""
        if cookie in self._translations:
            return str(cookie)
        for tag in _preferred(accept_language or ""):
            primary = tag.split("-")[0]
            for candidate in (tag, primary):
                if candidate in self._translations:
                    return candidate
        return self.default


def _compile(po_file: Path, code: str) -> Translations:
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _own_name(code: str) -> str:
    try:
        name = Locale.parse(code, sep="-").get_display_name(code)
    except (ValueError, UnknownLocaleError):
        return code
    return (name or code)[:1].upper() + (name or code)[1:]


def _preferred(header: str) -> list[str]:
    """Accept-Language tags, best first (``q=0`` means "not this one")."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]
