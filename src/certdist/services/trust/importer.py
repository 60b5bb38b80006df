"""``certdist trust import``: a foreign trust list, from a file or an https URL, into the
trust lists the verifier reads (:mod:`certdist.storage.trust_imports`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from certdist.errors import InvalidInput
from certdist.formats.trust_lists import (
    parse_eu_trust_list,
    parse_gdhcn_did,
    parse_vci_directory,
)
from certdist.services.common import UNREADABLE, Clock, Fetch
from certdist.storage.trust_imports import TrustImport, TrustImports, check_import_name


class TrustListFormat(StrEnum):
    EU_DCC = "eu-dcc"  # the DCC Gateway's trust list JSON
    GDHCN_DID = "gdhcn-did"  # a WHO GDHCN DID document (embedded keys)
    VCI_DIRECTORY = "vci-directory"  # the VCI directory: SMART Health Card issuers


@dataclass(frozen=True)
class ImportSummary:
    name: str
    path: Path
    document_signers: int
    shc_issuers: int


class TrustImporter:
    def __init__(self, imports: TrustImports, fetch: Fetch, clock: Clock) -> None:
        self._imports = imports
        self._fetch = fetch
        self._clock = clock

    def import_list(
        self, source: str, list_format: TrustListFormat | str, *, name: str | None = None
    ) -> ImportSummary:
        """Read, check and store one trust list; InvalidInput naming what is wrong (nothing
        is stored then). The same ``name`` (default: the format) replaces the earlier list."""
        try:
            chosen = TrustListFormat(list_format)
        except ValueError:
            known = ", ".join(f.value for f in TrustListFormat)
            raise InvalidInput(f"unknown trust list format {list_format!r}: {known}") from None
        name = check_import_name(name or chosen.value)  # before anything is fetched
        document = _parse_json(self._read(source), source)
        record = TrustImport(
            name=name,
            format=chosen.value,
            source=source,
            imported_at=self._clock.now(),
        )
        record = _READERS[chosen](record, document)
        if not record.document_signers and not record.shc_issuers:
            raise InvalidInput(f"{source} holds no key this format imports")
        path = self._imports.save(record)
        return ImportSummary(
            record.name, path, len(record.document_signers), len(record.shc_issuers)
        )

    def _read(self, source: str) -> bytes:
        if source.startswith("http://"):
            raise InvalidInput("trust lists are fetched over https only (or read from a file)")
        try:
            if source.startswith("https://"):
                return self._fetch(source)
            return Path(source).read_bytes()
        except UNREADABLE as error:
            raise InvalidInput(f"cannot read {source}: {error}") from None


def _parse_json(data: bytes, source: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{source} is not JSON") from None


def _eu(record: TrustImport, document: object) -> TrustImport:
    signers = tuple(s.der for s in parse_eu_trust_list(document))
    return dataclasses.replace(record, document_signers=signers)


def _gdhcn(record: TrustImport, document: object) -> TrustImport:
    signers = tuple(s.der for s in parse_gdhcn_did(document))
    return dataclasses.replace(record, document_signers=signers)


def _vci(record: TrustImport, document: object) -> TrustImport:
    issuers = {i.iss: i.jwks for i in parse_vci_directory(document)}
    return dataclasses.replace(record, shc_issuers=issuers)


_READERS: dict[TrustListFormat, Callable[[TrustImport, object], TrustImport]] = {
    TrustListFormat.EU_DCC: _eu,
    TrustListFormat.GDHCN_DID: _gdhcn,
    TrustListFormat.VCI_DIRECTORY: _vci,
}
