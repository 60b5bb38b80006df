"""Mobile numbers, normalised to E.164 so one citizen's number always matches itself."""

from __future__ import annotations

import phonenumbers


def normalize_mobile(raw: str, default_region: str) -> str:
    """``+919880414889`` from ``9880414889``, ``tel:9880414889`` or ``+91 98804 14889``.

    Raises ``ValueError`` (caught by request validation) for anything that is not a
    possible number.
    """
    text = raw.strip()
    if text.startswith("tel:"):
        text = text[4:]
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_mobile(e164: str) -> str:
    """For logs and screens: only the last 4 digits stay."""
    return "*" * max(len(e164) - 4, 0) + e164[-4:]
