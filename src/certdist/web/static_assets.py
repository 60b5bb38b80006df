"""Static files (style sheets, scripts, images) with caching a browser or a CDN can follow.

Pages link each file with ``?v=`` and the first 12 hex digits of its content's SHA-256
(:func:`asset_url`), so a link names exactly one version: such a response may be kept for a
year by anyone (``immutable``), and an upgrade changes the links rather than waiting for
caches to expire. Without that ``v`` (a link from a style sheet, an old page, a hand-typed
URL), or with a ``v`` that is not the file's current one, a cache must revalidate every
time (the ETag makes that a 304).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


@functools.cache
def content_version(path: Path) -> str:
    """The version a link names: 12 hex digits of the file's SHA-256 (read once a process)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset_url(prefix: str, directory: Path, name: str) -> str:
    """``prefix/name?v=<version>``; a name that is not a file gets no version."""
    path = directory / name
    if not path.is_file():
        return f"{prefix}/{name}"
    return f"{prefix}/{name}?v={content_version(path)}"


class StaticAssets(StaticFiles):
    """Starlette's static files with the ``Cache-Control`` described above."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [])
        current = asked == [content_version(Path(full_path))]
        response.headers["Cache-Control"] = IMMUTABLE if current else REVALIDATE
        return response
