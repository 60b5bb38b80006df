import pytest

from certdist.domain.phone import mask_mobile, normalize_mobile


@pytest.mark.parametrize(
    "raw", ["9880414889", "tel:9880414889", "+91 98804 14889", "+91-9880414889"]
)
def test_indian_numbers_normalise_to_e164(raw: str) -> None:
    assert normalize_mobile(raw, "IN") == "+919880414889"


def test_default_region_is_configurable() -> None:
    assert normalize_mobile("0412 345 678", "AU") == "+61412345678"


@pytest.mark.parametrize("raw", ["", "12", "not a number", "+1 000"])
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        normalize_mobile(raw, "IN")


def test_mask_keeps_last_four() -> None:
    assert mask_mobile("+919880414889") == "*********4889"
