"""The emails the accounts flows send. Links point at PUBLIC_BASE_URL; the token is also
given on its own line so it can be pasted into the API docs."""

from app.core.config import Settings
from app.core.mail import OutgoingEmail


def verification_email(settings: Settings, to: str, token: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Confirm your ARVlite email address",
        body=(
            "Confirm your email address to invite your team and pay for plans:\n\n"
            f"{settings.PUBLIC_BASE_URL}/verify-email?token={token}\n\n"
            f"Token: {token}\n\n"
            f"The link expires in {settings.EMAIL_VERIFICATION_TTL_HOURS} hours."
        ),
    )


def account_exists_email(settings: Settings, to: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Someone tried to sign up with your email",
        body=(
            "Somebody tried to create an ARVlite account with this address, which already "
            "has one. If it was you, sign in instead or reset your password at "
            f"{settings.PUBLIC_BASE_URL}/forgot-password. Otherwise, ignore this email."
        ),
    )


def password_reset_email(settings: Settings, to: str, token: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Reset your ARVlite password",
        body=(
            "Choose a new password here:\n\n"
            f"{settings.PUBLIC_BASE_URL}/reset-password?token={token}\n\n"
            f"Token: {token}\n\n"
            f"The link expires in {settings.PASSWORD_RESET_TTL_MINUTES} minutes. If you did "
            "not ask for it, ignore this email: your password stays as it is."
        ),
    )


def invitation_email(
    settings: Settings, to: str, token: str, company_name: str, role: str
) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=f"You are invited to {company_name} on ARVlite",
        body=(
            f"You are invited to join {company_name} as {role}.\n\n"
            f"{settings.PUBLIC_BASE_URL}/accept-invitation?token={token}\n\n"
            f"Token: {token}\n\n"
            f"The invitation expires in {settings.INVITATION_TTL_DAYS} days."
        ),
    )
