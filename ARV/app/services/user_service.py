"""Users that exist outside any company: lookup and creation by email."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.exceptions import EmailTakenError
from app.core.security import hash_password
from app.models.user import Language, User
from app.utils.clock import utcnow


def normalize_email(email: str) -> str:
    return email.strip().lower()


class UserService:
    def __init__(self, db: Session) -> None:
        self.db = db

    def get_by_email(self, email: str) -> User | None:
        return self.db.scalar(select(User).where(User.email == normalize_email(email)))

    def create(
        self,
        email: str,
        password: str | None,
        *,
        full_name: str = "",
        is_superuser: bool = False,
        verified: bool = False,
        language: Language = Language.EN,
    ) -> User:
        if self.get_by_email(email) is not None:
            raise EmailTakenError()
        user = User(
            email=normalize_email(email),
            hashed_password=hash_password(password) if password else None,
            full_name=full_name,
            is_superuser=is_superuser,
            email_verified_at=utcnow() if verified else None,
            language=language,
        )
        try:
            with self.db.begin_nested():
                self.db.add(user)
                self.db.flush()
        except IntegrityError as error:
            # A concurrent request created the address between the check and the insert;
            # the savepoint keeps the caller's transaction usable.
            raise EmailTakenError() from error
        return user

    def update_profile(self, user: User, full_name: str | None, language: Language | None) -> User:
        user.full_name = full_name if full_name is not None else user.full_name
        user.language = language or user.language
        return user
