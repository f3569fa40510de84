from app.core.security import hash_password, verify_password


def test_password_hash_verifies_and_is_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert first.startswith("$2b$")
    assert verify_password("correct horse", first)
    assert not verify_password("wrong horse", first)


def test_account_without_password_never_verifies() -> None:
    assert not verify_password("anything", None)
