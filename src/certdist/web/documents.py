"""A delivered certificate document as an HTTP response that no cache keeps.

For documents shown to one person (a citizen, a staff member, a partner app): the bytes carry
personal data, so they are ``no-store``; the name is the server's, never the client's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from starlette.responses import Response

from certdist.services.distribution import Artifact


def private_document(
    artifact: Artifact,
    *,
    disposition: Literal["attachment", "inline"] = "attachment",
    filename: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``filename`` replaces the artifact's (which names the certificate); ``headers`` are
    added (a share link's visitor pages add their referrer and robots rules)."""
    return Response(
        artifact.content,
        media_type=artifact.media_type,
        headers={
            **(headers or {}),
            "Content-Disposition": f'{disposition}; filename="{filename or artifact.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
