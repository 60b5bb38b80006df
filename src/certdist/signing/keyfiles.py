"""How keys sit on disk: created private from the first byte, read with their mode checked.

* A new file is created with ``os.open(..., O_CREAT | O_EXCL, 0o600)``: it is never readable
  by others, not even between creation and a later chmod, and never overwrites a key.
* A file is read through one descriptor whose ``fstat`` gives the mode, so the file whose
  permissions were checked is the file that was read.
* ``keys.json`` is replaced atomically (temporary file, fsync, rename, fsync of the
  directory), so a crash leaves either the old or the new manifest.
* Processes sharing a key directory take turns through an ``flock`` on ``.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from certdist.errors import ConfigurationError

__all__ = [
    "MANIFEST_NAME",
    "directory_lock",
    "read_key_file",
    "read_manifest",
    "require_private_mode",
    "write_manifest",
    "write_new_file",
]

MANIFEST_NAME: Final = "keys.json"
MANIFEST_FORMAT: Final = "certdist-keys/1"
_FIELDS: Final[Mapping[str, tuple[type, ...]]] = {
    "id": (str,),
    "use": (str,),
    "algorithm": (str,),
    "file": (str,),
    "active": (bool,),
    "created": (str, type(None)),
}


@contextlib.contextmanager
def directory_lock(keys_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the key directory, across processes."""
    descriptor = os.open(keys_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start; never overwrite an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def read_key_file(path: Path) -> tuple[bytes, int]:
    """The bytes of a key file and its permission bits (ConfigurationError if unreadable)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise ConfigurationError(f"cannot read key file {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"key file {path} is not a regular file")
        return handle.read(), stat.S_IMODE(info.st_mode)


def require_private_mode(path: Path, mode: int) -> None:
    """Refuse a private key that group or others could read or change: it may have leaked."""
    if mode & 0o077:
        raise ConfigurationError(
            f"private key file {path} is accessible by group or others (mode {mode:04o}); "
            "make it 0600, and treat the key as leaked"
        )


def read_manifest(keys_dir: Path) -> list[dict[str, Any]]:
    """The records of ``keys.json``, each checked for its fields and a plain file name."""
    path = keys_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"no key manifest at {path}; initialise the key directory first"
        ) from None
    except OSError as error:
        raise ConfigurationError(f"cannot read key manifest {path}: {error.strerror}") from None
    except ValueError:
        raise ConfigurationError(f"key manifest {path} is not valid JSON") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(manifest.get("keys"), list)
    ):
        raise ConfigurationError(f"key manifest {path} is not a {MANIFEST_FORMAT} manifest")
    records: list[dict[str, Any]] = manifest["keys"]
    for index, record in enumerate(records):
        if not isinstance(record, dict) or any(
            not isinstance(record.get(name), types) for name, types in _FIELDS.items()
        ):
            raise ConfigurationError(f"key manifest {path}: entry {index} is malformed")
        name = record["file"]
        if not name or Path(name).name != name or name.startswith("."):
            raise ConfigurationError(
                f"key manifest {path}: entry {index} must name a plain file in the directory"
            )
    return records


def write_manifest(keys_dir: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Replace ``keys.json`` atomically."""
    data = json.dumps({"format": MANIFEST_FORMAT, "keys": list(records)}, indent=2) + "\n"
    temporary = keys_dir / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    write_new_file(temporary, data.encode("utf-8"))
    os.replace(temporary, keys_dir / MANIFEST_NAME)
    descriptor = os.open(keys_dir, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
