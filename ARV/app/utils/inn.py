"""The ИНН (Russian taxpayer number) and its check digits.

An organisation's ИНН has 10 digits, the last a check digit; an individual's (and so an
individual entrepreneur's) has 12, the last two check digits. Each check digit is a weighted
sum of the digits before it, modulo 11, then modulo 10 (the Federal Tax Service's rule).
"""

import re

_WEIGHTS_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
# ASCII digits only: `str.isdigit` and `\d` would also take other scripts' digits.
_INN_SHAPE = re.compile(r"[0-9]{10}|[0-9]{12}")


def is_valid_inn(value: str) -> bool:
    """True for 10 or 12 ASCII digits whose check digits are right."""
    if _INN_SHAPE.fullmatch(value) is None:
        return False
    digits = [int(char) for char in value]
    if len(digits) == 10:
        return digits[9] == _check_digit(digits, _WEIGHTS_10)
    return digits[10] == _check_digit(digits, _WEIGHTS_11) and digits[11] == _check_digit(
        digits, _WEIGHTS_12
    )


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10
