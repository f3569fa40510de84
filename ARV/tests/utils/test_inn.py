"""ИНН check digits: real numbers pass, any other shape or a wrong check digit does not."""

import pytest

from app.utils.inn import is_valid_inn


@pytest.mark.parametrize(
    "inn",
    [
        "7707083893",  # Sberbank
        "7736207543",  # Yandex
        "500100732259",  # 12 digits: check digits 5 and 9 computed by hand
    ],
)
def test_valid_inns_pass(inn: str) -> None:
    assert is_valid_inn(inn)


@pytest.mark.parametrize(
    "inn",
    [
        "7707083894",  # last digit off by one
        "7707083839",  # two digits swapped
        "500100732258",  # 12 digits, second check digit wrong
        "500100732159",  # 12 digits, first check digit wrong
    ],
)
def test_a_wrong_check_digit_fails(inn: str) -> None:
    assert not is_valid_inn(inn)


@pytest.mark.parametrize(
    "inn",
    [
        "",
        "770708389",  # 9 digits
        "77070838930",  # 11 digits: neither shape
        "5001007322590",  # 13 digits
        "770708389X",
        "7707 083893",
        " 7707083893",
        "7707083893\n",
        "٧٧٠٧٠٨٣٨٩٣",  # Arabic-Indic digits: `isdigit` is true, the number is not an ИНН
    ],
)
def test_anything_but_10_or_12_ascii_digits_fails(inn: str) -> None:
    assert not is_valid_inn(inn)
