"""Password hashing. All credential code lives here so the libraries behind it can be
swapped in one place."""

from passlib.context import CryptContext

_passwords = CryptContext(schemes=["bcrypt"], deprecated="auto", bcrypt__rounds=12)


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        # Still spend the hashing time, so timing does not reveal password-less accounts.
        _passwords.dummy_verify()
        return False
    return _passwords.verify(password, hashed)
