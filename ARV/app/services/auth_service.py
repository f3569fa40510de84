"""Sign-up, sign-in, sessions and the single-use email tokens around them."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import refuse_with_record
from app.core.events import on_commit
from app.core.exceptions import (
    AccountDisabledError,
    CurrentPasswordIncorrectError,
    EmailTakenError,
    InvalidCredentialsError,
    NotFoundError,
    PasswordRejectedError,
    RefreshTokenInvalidError,
    TokenInvalidError,
)
from app.core.security import (
    PASSWORD_MAX_BYTES,
    PASSWORD_MIN_LENGTH,
    AccessClaims,
    create_access_token,
    hash_password,
    hash_token,
    new_opaque_token,
    verify_password,
)
from app.models.auth import AuthSession, OneTimeToken, RefreshToken, TokenPurpose
from app.models.user import Language, User
from app.services import live, notifications
from app.services.audit_service import AuditService
from app.services.claims import claim_once
from app.services.context import RequestMeta
from app.services.emails import Emails
from app.services.login_throttle import LoginThrottle
from app.services.user_service import UserService
from app.utils.clock import utcnow
from app.utils.passwords import password_problem

logger = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Incorrect email or password."
INVALID_REFRESH = "The refresh token is invalid or expired; sign in again."


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    session_id: uuid.UUID


class AuthService:
    def __init__(
        self, db: Session, settings: Settings, meta: RequestMeta, throttle: LoginThrottle
    ) -> None:
        self.db = db
        self.settings = settings
        self.meta = meta
        self.throttle = throttle
        self.users = UserService(db)
        self.audit = AuditService(db)
        self.emails = Emails(db, settings)

    # -- sign-up and sign-in -------------------------------------------------------------

    def register(
        self, email: str, password: str, full_name: str, language: Language = Language.EN
    ) -> None:
        """Create the account, or tell the owner of an existing one by email. The answer
        is the same either way, so sign-up never reveals which addresses have accounts."""
        self.check_password(password, email, field="password")
        existing = self.users.get_by_email(email)
        if existing is not None:
            # Spend the same hashing time as a real sign-up, so the response time does not
            # reveal that the address has an account either.
            hash_password(password)
            self.emails.account_exists(existing.email, existing.language)
            return
        try:
            user = self.users.create(email, password, full_name=full_name, language=language)
        except EmailTakenError:
            return  # a concurrent sign-up took the address; answer as for any taken one
        self._audit("user.registered", user)
        self._send_verification(user)

    def login(self, email: str, password: str) -> IssuedTokens:
        self.throttle.ensure_not_locked(email)
        user = self.users.get_by_email(email)
        if user is None or not verify_password(password, user.hashed_password):
            self.throttle.record_failure(email)
            user_id = user.id if user else None
            refuse_with_record(
                self.db,
                InvalidCredentialsError(INVALID_CREDENTIALS),
                lambda own: AuditService(own).record(
                    "auth.login_failed",
                    entity_type="user",
                    entity_id=user_id,
                    actor_user_id=None,
                    meta=self.meta,
                    changes={"email_known": user_id is not None},
                ),
            )
        if not user.is_active:
            raise AccountDisabledError("This account is disabled.")
        self.throttle.record_success(email)
        self._audit("auth.login", user)
        return self.start_session(user)

    def start_session(self, user: User) -> IssuedTokens:
        """A new signed-in device for `user` (password and OAuth sign-in alike)."""
        now = utcnow()
        user.last_login_at = now
        self._tell_if_new_device(user)
        session = AuthSession(
            user_id=user.id,
            user_agent=self.meta.user_agent[:300],
            ip_address=self.meta.ip_address[:64],
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(days=self.settings.REFRESH_TOKEN_TTL_DAYS),
        )
        self.db.add(session)
        self.db.flush()
        return self._issue(session, now)

    def _tell_if_new_device(self, user: User) -> None:
        """A sign-in from a device (browser or app) the account never signed in from is a
        security alert; the account's first sign-in is not."""
        earlier = select(AuthSession.user_agent).where(AuthSession.user_id == user.id)
        agents = set(self.db.scalars(earlier))
        if agents and self.meta.user_agent[:300] not in agents:
            notifications.emit(
                self.db,
                self.settings,
                "security.new_sign_in",
                {
                    "device": self.meta.user_agent[:120] or "an unknown device",
                    "ip_address": self.meta.ip_address or "an unknown address",
                },
                user_id=user.id,
            )

    # -- refresh-token rotation ------------------------------------------------------------

    def refresh(self, refresh_token: str) -> IssuedTokens:
        now = utcnow()
        token = self.db.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
        )
        session = self.db.get(AuthSession, token.session_id) if token else None
        if token is None or session is None or not session.is_live(now):
            raise RefreshTokenInvalidError(INVALID_REFRESH)
        if not self._claim(token, now):
            self._handle_reuse(token, session, now)
        session.last_used_at = now
        session.ip_address = self.meta.ip_address[:64] or session.ip_address
        return self._issue(session, now)

    def _claim(self, token: RefreshToken, now: datetime) -> bool:
        # Of two concurrent refreshes with one token, exactly one wins.
        claimed = claim_once(
            self.db,
            RefreshToken.rotated_at,
            RefreshToken.id == token.id,
            now=now,
            returning=RefreshToken.id,
        )
        self.db.refresh(token)
        return claimed is not None

    def _handle_reuse(self, token: RefreshToken, session: AuthSession, now: datetime) -> None:
        grace = timedelta(seconds=self.settings.REFRESH_REUSE_GRACE_SECONDS)
        if token.rotated_at is not None and now - token.rotated_at <= grace:
            return  # two tabs refreshing at once: the later one gets its own new token
        session_id, user_id = session.id, session.user_id

        def revoke_the_family(own: Session) -> None:
            self._revoke(own, own.get_one(AuthSession, session_id), "refresh_token_reuse", now)
            notifications.emit(own, self.settings, "security.refresh_reuse", {}, user_id=user_id)
            AuditService(own).record(
                "auth.refresh_token_reused",
                entity_type="session",
                entity_id=session_id,
                actor_user_id=user_id,
                meta=self.meta,
            )

        logger.warning(
            "refresh token reuse; session revoked", extra={"session_id": str(session_id)}
        )
        refuse_with_record(self.db, RefreshTokenInvalidError(INVALID_REFRESH), revoke_the_family)

    def _issue(self, session: AuthSession, now: datetime) -> IssuedTokens:
        refresh_token = new_opaque_token()
        self.db.add(RefreshToken(session_id=session.id, token_hash=hash_token(refresh_token)))
        access_token, access_expires_at = create_access_token(
            self.settings, session.user_id, session.id, now
        )
        self.db.flush()
        return IssuedTokens(
            access_token=access_token,
            access_expires_at=access_expires_at,
            refresh_token=refresh_token,
            refresh_expires_at=session.expires_at,
            session_id=session.id,
        )

    # -- sessions ------------------------------------------------------------------------

    def logout(self, refresh_token: str) -> None:
        token = self.db.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
        )
        session = self.db.get(AuthSession, token.session_id) if token else None
        if session is not None and session.revoked_at is None:
            self._revoke(self.db, session, "logout", utcnow())

    def list_sessions(self, user: User) -> list[AuthSession]:
        now = utcnow()
        statement = (
            select(AuthSession)
            .where(
                AuthSession.user_id == user.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .order_by(AuthSession.last_used_at.desc(), AuthSession.id)
        )
        return list(self.db.scalars(statement))

    def revoke_session(self, user: User, session_id: uuid.UUID) -> None:
        session = self.db.get(AuthSession, session_id)
        if session is None or session.user_id != user.id or session.revoked_at is not None:
            raise NotFoundError.for_entity("Session", session_id)
        self._revoke(self.db, session, "revoked_by_user", utcnow())

    def revoke_other_sessions(self, user: User, keep: uuid.UUID | None, reason: str) -> int:
        now = utcnow()
        statement = update(AuthSession).where(
            AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)
        )
        if keep is not None:
            statement = statement.where(AuthSession.id != keep)
        revoked = self.db.scalars(
            statement.values(revoked_at=now, revoked_reason=reason).returning(AuthSession.id)
        ).all()
        for session_id in revoked:
            self._close_sockets_after_commit(self.db, user.id, session_id)
        return len(revoked)

    def _revoke(self, db: Session, session: AuthSession, reason: str, now: datetime) -> None:
        session.revoked_at = now
        session.revoked_reason = reason
        self._close_sockets_after_commit(db, session.user_id, session.id)

    def _close_sockets_after_commit(
        self, db: Session, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> None:
        on_commit(db, lambda: live.session_ended(self.settings, user_id, session_id))

    # -- passwords -----------------------------------------------------------------------

    def check_password(self, password: str, email: str, *, field: str = "new_password") -> None:
        problem = password_problem(
            password, email=email, min_length=PASSWORD_MIN_LENGTH, max_bytes=PASSWORD_MAX_BYTES
        )
        if problem:
            raise PasswordRejectedError(
                problem, details=[{"loc": ["body", field], "message": problem}]
            )

    def change_password(
        self, user: User, current: str, new: str, current_session: uuid.UUID
    ) -> None:
        if not verify_password(current, user.hashed_password):
            raise CurrentPasswordIncorrectError("The current password is wrong.")
        self._set_password(user, new)
        self.revoke_other_sessions(user, keep=current_session, reason="password_changed")
        self._audit("user.password_changed", user)
        notifications.emit(self.db, self.settings, "security.password_changed", {}, user_id=user.id)

    def request_password_reset(self, email: str) -> None:
        """Always succeeds from the caller's view; only an existing account gets mail."""
        user = self.users.get_by_email(email)
        if user is None or not user.is_active:
            return
        token = self._new_one_time_token(
            user,
            TokenPurpose.RESET_PASSWORD,
            timedelta(minutes=self.settings.PASSWORD_RESET_TTL_MINUTES),
        )
        self.emails.password_reset(user.email, user.language, token)

    def reset_password(self, token: str, new: str) -> None:
        record = self._use_one_time_token(token, TokenPurpose.RESET_PASSWORD)
        user = self.db.get_one(User, record.user_id)
        self._set_password(user, new)
        # Following the emailed link proves the address, too.
        user.email_verified_at = user.email_verified_at or utcnow()
        self.revoke_other_sessions(user, keep=None, reason="password_reset")
        self._audit("user.password_reset", user)

    def _set_password(self, user: User, password: str) -> None:
        self.check_password(password, user.email)
        user.hashed_password = hash_password(password)
        user.password_changed_at = utcnow()
        self.emails.password_changed(user.email, user.language)

    # -- email verification --------------------------------------------------------------

    def resend_verification(self, user: User) -> None:
        if not user.is_verified:
            self._send_verification(user)

    def verify_email(self, token: str) -> User:
        record = self._use_one_time_token(token, TokenPurpose.VERIFY_EMAIL)
        user = self.db.get_one(User, record.user_id)
        user.email_verified_at = user.email_verified_at or utcnow()
        self._audit("user.email_verified", user)
        return user

    def _send_verification(self, user: User) -> None:
        token = self._new_one_time_token(
            user,
            TokenPurpose.VERIFY_EMAIL,
            timedelta(hours=self.settings.EMAIL_VERIFICATION_TTL_HOURS),
        )
        self.emails.verification(user.email, user.language, token)

    # -- single-use tokens ---------------------------------------------------------------

    def _new_one_time_token(self, user: User, purpose: TokenPurpose, ttl: timedelta) -> str:
        token = new_opaque_token()
        self.db.add(
            OneTimeToken(
                user_id=user.id,
                purpose=purpose,
                token_hash=hash_token(token),
                expires_at=utcnow() + ttl,
            )
        )
        return token

    def _use_one_time_token(self, token: str, purpose: TokenPurpose) -> OneTimeToken:
        matches = OneTimeToken.token_hash == hash_token(token), OneTimeToken.purpose == purpose
        record = claim_once(
            self.db,
            OneTimeToken.used_at,
            *matches,
            expires=OneTimeToken.expires_at,
            returning=OneTimeToken,
        )
        if record is None:
            raise TokenInvalidError("This link is invalid, expired or already used.")
        return record

    # -- helpers -------------------------------------------------------------------------

    def _audit(self, action: str, user: User) -> None:
        self.audit.record(
            action, entity_type="user", entity_id=user.id, actor_user_id=user.id, meta=self.meta
        )


def live_session_user(db: Session, claims: AccessClaims) -> User | None:
    """The user an access token speaks for, provided its session is still live and the
    account active. Checked per request, so sign-out and revocation take effect at once."""
    session = db.get(AuthSession, claims.session_id)
    user = db.get(User, claims.user_id)
    if session is None or user is None or session.user_id != user.id:
        return None
    if not session.is_live(utcnow()) or not user.is_active:
        return None
    return user
