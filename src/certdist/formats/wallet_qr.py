"""QR symbols with explicit segments (segno), for SMART Health Cards.

SMART Health Cards prescribe a byte segment ``shc:/`` followed by a numeric segment.
zxing-cpp chooses its segments itself; segno takes them as given. segno is pure Python
(measured on this machine: 7-25 ms for a v19-v22 card with a fixed mask, depending on load;
about 30 ms more when it picks the mask), so cards are cached by the distribution service's
render cache (a card is a pure function of its certificates). The mask is fixed for the
reason given in :mod:`certdist.formats.qr_image`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, cast

import segno

from certdist.errors import InvalidInput
from certdist.formats.qr_image import FAST_MASK, QrMatrix

Mode = Literal["byte", "numeric"]
_MODES: Final = {"byte": segno.consts.MODE_BYTE, "numeric": segno.consts.MODE_NUMERIC}


def segmented_matrix(
    segments: Sequence[tuple[str, Mode]],
    *,
    ec: Literal["L", "M", "Q", "H"],
    max_version: int = 40,
    mask: int | None = FAST_MASK,
) -> QrMatrix:
    """The smallest QR symbol (at most ``max_version``) holding ``segments`` in their modes."""
    content = [(text, _MODES[mode]) for text, mode in segments]
    try:
        # segno accepts a list of (text, mode) segments; its type stub only names str/bytes.
        symbol = segno.make_qr(cast(Any, content), error=ec.lower(), boost_error=False, mask=mask)
    except segno.DataOverflowError as exc:
        raise InvalidInput(f"the payload does not fit in a QR code at level {ec}") from exc
    version = int(symbol.version)
    if version > max_version:
        raise InvalidInput(f"the payload needs QR version {version}, above {max_version}")
    size = len(symbol.matrix)
    modules = b"".join(bytes(row) for row in symbol.matrix)
    return QrMatrix(version=version, size=size, ec=ec, modules=modules)
