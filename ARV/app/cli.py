"""Operator commands: `python -m app.cli create-demo-admin`."""

import argparse
import secrets

from app.core.config import get_settings
from app.core.database import session_scope
from app.services.user_service import UserService

DEMO_ADMIN_EMAIL = "admin@arvlite.local"


def create_demo_admin() -> None:
    """Create the demo superuser once; its password is kept in VAR_DIR for later runs."""
    credentials_file = get_settings().VAR_DIR / "demo-admin.txt"
    with session_scope() as db:
        users = UserService(db)
        if users.get_by_email(DEMO_ADMIN_EMAIL) is None:
            password = secrets.token_urlsafe(12)
            users.create(
                DEMO_ADMIN_EMAIL, password, full_name="Demo Admin", is_superuser=True, verified=True
            )
            credentials_file.parent.mkdir(parents=True, exist_ok=True)
            credentials_file.write_text(f"{DEMO_ADMIN_EMAIL}\n{password}\n")
            credentials_file.chmod(0o600)
    if credentials_file.exists():
        email, password = credentials_file.read_text().split()
        print(f"Demo admin: {email} / {password}")
    else:
        print(f"Demo admin {DEMO_ADMIN_EMAIL} exists; its password was changed since creation.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-demo-admin", help="create the demo superuser and print it")
    args = parser.parse_args()
    if args.command == "create-demo-admin":
        create_demo_admin()


if __name__ == "__main__":
    main()
