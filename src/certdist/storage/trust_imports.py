"""Imported trust lists, kept in the data folder beside the keys (``<data_dir>/trust``).

One JSON file per import name, replaced whole by the next import under that name (a trust
list is a snapshot: a key the issuer withdrew disappears with the new list). The verifier
reads every file when it is built, so a running server picks an import up on restart.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from certdist.errors import ConfigurationError, InvalidInput

__all__ = ["IMPORT_NAME_PATTERN", "TrustImport", "TrustImports", "check_import_name"]

IMPORT_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,63}$"
_VERSION: Final = 1


@dataclass(frozen=True)
class TrustImport:
    """What one import brought: EU DSCs (DER) and SMART Health Card issuers.

    ``shc_issuers`` maps an ``iss`` to its JWKS, or to None when its keys are fetched from
    the issuer (``<iss>/.well-known/jwks.json``).
    """

    name: str
    format: str
    source: str
    imported_at: datetime
    document_signers: tuple[bytes, ...] = ()
    shc_issuers: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)


class TrustImports:
    """The ``trust`` folder of the data folder."""

    def __init__(self, directory: Path) -> None:
        self._directory = Path(directory)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> TrustImports:
        return cls(Path(data_dir) / "trust")

    def save(self, record: TrustImport) -> Path:
        check_import_name(record.name)
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._directory / f"{record.name}.json"
        document = {
            "version": _VERSION,
            "name": record.name,
            "format": record.format,
            "source": record.source,
            "imported_at": record.imported_at.isoformat(),
            "document_signers": [
                base64.b64encode(d).decode("ascii") for d in record.document_signers
            ],
            "shc_issuers": dict(record.shc_issuers),
        }
        # Written beside and renamed: a verifier starting meanwhile reads the old or the new.
        handle, temporary = tempfile.mkstemp(dir=self._directory, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, sort_keys=True)
        os.replace(temporary, path)
        return path

    def all(self) -> list[TrustImport]:
        """Every import, by name; ConfigurationError naming a file that cannot be read."""
        if not self._directory.is_dir():
            return []
        return [_read(path) for path in sorted(self._directory.glob("*.json"))]


def check_import_name(name: str) -> str:
    """``name``, or InvalidInput: it becomes a file name, so no paths and no surprises."""
    if not re.fullmatch(IMPORT_NAME_PATTERN, name):
        raise InvalidInput(f"the import name {name!r} must match {IMPORT_NAME_PATTERN}")
    return name


def _read(path: Path) -> TrustImport:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("version") != _VERSION:
            raise ValueError("unknown version")
        return TrustImport(
            name=str(document["name"]),
            format=str(document["format"]),
            source=str(document["source"]),
            imported_at=datetime.fromisoformat(document["imported_at"]),
            document_signers=tuple(base64.b64decode(d) for d in document["document_signers"]),
            shc_issuers=dict(document["shc_issuers"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise ConfigurationError(f"imported trust list {path} cannot be read: {error}") from None
