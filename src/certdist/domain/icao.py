"""ICAO 9303 machine-readable name transliteration, as EU DCC ``fnt`` / ``gnt`` need it.

The result uses only ``A-Z`` and the filler ``<`` (for spaces and hyphens). Latin letters
with diacritics follow ICAO 9303 part 3 (section 6, "transliteration of multinational
characters": ``Ä`` → ``AE``, ``ß`` → ``SS``, ``Ø`` → ``OE`` ...); other accented letters lose
their marks. Names in other scripts cannot be transliterated mechanically here and must be
supplied by the person (the EU DCC request body carries them).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

#: ``^[A-Z<]*$`` as the EU DCC schema states it (``fnt``, ``gnt``).
ICAO_PATTERN: Final = re.compile(r"^[A-Z<]*$")
#: The schema's maximum length of ``fnt`` and ``gnt``.
MAX_TRANSLITERATED_LENGTH: Final = 80

# ICAO 9303-3 §6 multi-letter and special transliterations (upper case; applied first).
_SPECIAL: Final = {
    "Ä": "AE",
    "Æ": "AE",
    "Å": "AA",
    "Ö": "OE",
    "Ø": "OE",
    "Œ": "OE",
    "Ü": "UE",
    "ẞ": "SS",
    "ß": "SS",
    "Þ": "TH",
    "Ð": "D",
    "Đ": "D",
    "Ħ": "H",
    "Ĳ": "IJ",
    "Ŀ": "L",
    "Ł": "L",
    "Ŋ": "N",
    "Ŧ": "T",
}
_FILLERS: Final = re.compile(r"[\s\-‐‑–]+")
_DROPPED: Final = re.compile(r"[.'’`,]")


class NotTransliterable(ValueError):
    """The name has characters outside the Latin script (or none at all)."""


def transliterate(name: str) -> str:
    """The ICAO 9303 form of a Latin-script name: ``"Anna-Lena O'Brien"`` → ``ANNA<LENA<OBRIEN``."""
    text = _FILLERS.sub("<", _DROPPED.sub("", name.strip())).strip("<")
    letters: list[str] = []
    for character in unicodedata.normalize("NFC", text.upper()):
        if character == "<" or "A" <= character <= "Z":
            letters.append(character)
            continue
        special = _SPECIAL.get(character)
        if special is not None:
            letters.append(special)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFD", character) if not unicodedata.combining(c)
        )
        if len(base) == 1 and "A" <= base <= "Z":
            letters.append(base)
            continue
        raise NotTransliterable("the name has characters outside the Latin script")
    result = "".join(letters)
    if not result:
        raise NotTransliterable("the name has no letters")
    return result[:MAX_TRANSLITERATED_LENGTH]


def is_transliteration(value: str) -> bool:
    return bool(ICAO_PATTERN.match(value)) and len(value) <= MAX_TRANSLITERATED_LENGTH
