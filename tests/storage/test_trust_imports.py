"""Imported trust lists on disk: saved and read back whole; a damaged file is a configuration
error naming it (the verifier must not start half-trusting)."""

from __future__ import annotations

from pathlib import Path

import pytest

from certdist.errors import ConfigurationError
from certdist.storage.trust_imports import TrustImport, TrustImports
from tests.support.wallet_samples import NOW


def test_saved_imports_read_back(tmp_path: Path) -> None:
    imports = TrustImports.in_data_dir(tmp_path)
    assert imports.all() == []  # no folder yet
    record = TrustImport(
        "vci", "vci-directory", "https://x", NOW, (b"\x30\x00",), {"https://i": None}
    )
    path = imports.save(record)
    assert path == tmp_path / "trust" / "vci.json"
    assert imports.all() == [record]
    assert list((tmp_path / "trust").iterdir()) == [path]  # no temporary file left


def test_a_damaged_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "eu.json").write_text('{"version": 1}')
    with pytest.raises(ConfigurationError, match=r"eu\.json cannot be read"):
        TrustImports.in_data_dir(tmp_path).all()
