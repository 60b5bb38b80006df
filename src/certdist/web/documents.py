"""A delivered certificate document as an HTTP response that no cache keeps.

For documents shown to one person (a citizen, a staff member, a partner app): the bytes carry
personal data, so they are ``no-store``; the name is the server's, never the client's.
"""

from __future__ import annotations

from typing import Literal

from starlette.responses import Response

from certdist.services.distribution import Artifact


def private_document(
    artifact: Artifact, *, disposition: Literal["attachment", "inline"] = "attachment"
) -> Response:
    return Response(
        artifact.content,
        media_type=artifact.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{artifact.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
