"""Certificate templates: page layout per entity type and labels per language, as files.

A template directory holds ``<kind>.json`` (layout, one per view kind: ``vaccination``,
``test``) and ``labels/<language>.json``. Layouts are in millimetres with the origin at the
top-left corner of the page; text ``y`` is the baseline. Changing these files changes the
certificate without code changes, and :func:`template_version` changes with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certdist.errors import ConfigurationError

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PRIMARY_LANGUAGE = "en"
#: Bump when the renderer's output for the same files changes, so caches keyed by
#: :func:`template_version` are invalidated by a code change too.
RENDERER_REVISION = "2"


class Spec:
    """Typed read access to one JSON object of a template, with precise error messages."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigurationError(f"{where}: expected an object")
        self.data: dict[str, Any] = data
        self.where = where

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def number(self, key: str, default: float | None = None) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(f"{self.where}.{key}: expected a number")
        return float(value)

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"{self.where}.{key}: expected an integer")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise ConfigurationError(f"{self.where}.{key}: expected a string")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigurationError(f"{self.where}.{key}: expected true or false")
        return value

    def child(self, key: str) -> Spec:
        return Spec(self.data.get(key), f"{self.where}.{key}")

    def children(self, key: str) -> list[Spec]:
        value = self.data.get(key)
        if not isinstance(value, list):
            raise ConfigurationError(f"{self.where}.{key}: expected a list")
        return [Spec(item, f"{self.where}.{key}[{i}]") for i, item in enumerate(value)]


@dataclass(frozen=True)
class Labels:
    """The label texts of one language."""

    language: str
    texts: Mapping[str, str]
    path: Path

    def get(self, key: str, where: str) -> str:
        text = self.texts.get(key)
        if text is None:
            raise ConfigurationError(f"{where}: label {key!r} is missing from {self.path}")
        return text


@dataclass(frozen=True)
class Template:
    kind: str
    path: Path
    spec: Spec
    colors: Mapping[str, tuple[float, float, float]]
    page_width: float
    page_height: float

    def color(self, name: str, where: str) -> tuple[float, float, float]:
        if name in self.colors:
            return self.colors[name]
        return parse_color(name, where)


def parse_color(value: str, where: str) -> tuple[float, float, float]:
    text = value.strip().lstrip("#")
    if len(text) != 6:
        raise ConfigurationError(f"{where}: colour {value!r} is neither a name nor #rrggbb")
    try:
        r, g, b = (int(text[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except ValueError:
        raise ConfigurationError(f"{where}: colour {value!r} is not #rrggbb") from None
    return (r, g, b)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"template file {path} cannot be read: {exc}") from None
    except ValueError as exc:
        raise ConfigurationError(f"template file {path} is not valid JSON: {exc}") from None


def load_labels(directory: Path, language: str) -> Labels:
    path = directory / "labels" / f"{language}.json"
    spec = Spec(_read_json(path), str(path))
    texts = {k: v for k, v in spec.data.items() if not k.startswith("_")}
    bad = [k for k, v in texts.items() if not isinstance(v, str)]
    if bad:
        raise ConfigurationError(f"{path}: labels {bad} are not strings")
    return Labels(language=language, texts=texts, path=path)


def load_template(directory: Path, kind: str) -> Template:
    path = directory / f"{kind}.json"
    spec = Spec(_read_json(path), path.name)
    page = spec.child("page")
    colors_spec = spec.child("colors") if spec.has("colors") else Spec({}, f"{path.name}.colors")
    colors = {
        name: parse_color(str(value), f"{path.name}.colors.{name}")
        for name, value in colors_spec.data.items()
    }
    return Template(
        kind=kind,
        path=path,
        spec=spec,
        colors=colors,
        page_width=page.number("width", 210.0),
        page_height=page.number("height", 297.0),
    )


def template_version(files: list[Path], font_digests: list[str], options: str = "") -> str:
    """A short digest of everything that shapes the output: template and label files, font
    files (by content), renderer options and the renderer revision."""
    digest = hashlib.sha256(f"{RENDERER_REVISION}\0{options}\0".encode())
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    for font in font_digests:
        digest.update(font.encode())
    return digest.hexdigest()[:16]
