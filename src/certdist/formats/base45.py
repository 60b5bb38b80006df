"""Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet, for EU DCC ``HC1:``.

Two bytes become three characters and a trailing single byte two, so a QR code in
alphanumeric mode (5.5 bits per character) carries the compressed CWT with little waste.
"""

from __future__ import annotations

from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE: Final = {character: value for value, character in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """The text is not valid Base45."""


def b45encode(data: bytes) -> str:
    out: list[str] = []
    for start in range(0, len(data) - 1, 2):
        number = data[start] * 256 + data[start + 1]
        number, c = divmod(number, 45)
        e, d = divmod(number, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    try:
        values = [_VALUE[character] for character in text]
    except KeyError as exc:
        raise Base45Error(f"character {exc.args[0]!r} is not in the Base45 alphabet") from None
    if len(values) % 3 == 1:
        raise Base45Error("Base45 text has a dangling character")
    out = bytearray()
    for start in range(0, len(values), 3):
        chunk = values[start : start + 3]
        if len(chunk) == 3:
            number = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if number > 0xFFFF:
                raise Base45Error("Base45 triple encodes a value above 65535")
            out += number.to_bytes(2, "big")
        else:
            number = chunk[0] + chunk[1] * 45
            if number > 0xFF:
                raise Base45Error("Base45 pair encodes a value above 255")
            out.append(number)
    return bytes(out)
