"""ICAO 9303 transliteration of Latin-script names (EU DCC fnt / gnt)."""

from __future__ import annotations

import pytest

from certdist.domain.icao import NotTransliterable, is_transliteration, transliterate


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Bhaya Mitra", "BHAYA<MITRA"),
        ("d'Červenková Panklová", "DCERVENKOVA<PANKLOVA"),
        ("Jiřina-Maria Alena", "JIRINA<MARIA<ALENA"),
        ("Müller", "MUELLER"),
        ("Straße", "STRASSE"),
        ("Øyvind Åsen", "OEYVIND<AASEN"),
        ("Þór Ægir", "THOR<AEGIR"),
        ("Łukasz", "LUKASZ"),
        ("  José   García ", "JOSE<GARCIA"),
        ("O'Brien-Smith", "OBRIEN<SMITH"),
    ],
)
def test_transliteration(name: str, expected: str) -> None:
    assert transliterate(name) == expected
    assert is_transliteration(expected)


@pytest.mark.parametrize("name", ["प्रिया", "Иван", "   ", "'-'"])
def test_other_scripts_and_empty_names_are_refused(name: str) -> None:
    with pytest.raises(NotTransliterable):
        transliterate(name)


def test_long_names_are_cut_to_the_schema_limit() -> None:
    assert len(transliterate("A" * 100)) == 80


def test_is_transliteration() -> None:
    assert not is_transliteration("Mitra")
    assert not is_transliteration("MITRA ")
    assert not is_transliteration("A" * 81)
    assert is_transliteration("")
