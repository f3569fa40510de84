"""Operator commands: `python -m app.cli create-demo-admin | set-plan <company> <plan>`."""

import argparse
import getpass
import json
import secrets
import sys

from app.core.config import get_settings
from app.core.database import session_scope
from app.core.exceptions import AppError
from app.models.company import Plan
from app.services.admin_service import AdminService, PlatformActor
from app.services.context import RequestMeta
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


def set_plan(company: str, plan: str) -> None:
    """Put a company (id or slug) on a plan; audited with the shell account, as there is
    no platform user behind an operator command."""
    actor = PlatformActor(via="cli", os_user=_shell_account())
    with session_scope() as db:
        change = AdminService(db, RequestMeta()).set_plan(company, plan, actor)
        name = f"{change.company.name} ({change.company.slug}, {change.company.id})"
    if change.changed:
        print(f"{name}: plan {change.before} -> {change.after}")
    else:
        print(f"{name}: already on plan {change.after}; nothing changed")


def _shell_account() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry and no $USER
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-demo-admin", help="create the demo superuser and print it")
    plan_command = commands.add_parser(
        "set-plan", help="put a company on a plan (recorded in its audit log)"
    )
    plan_command.add_argument("company", help="the company's id or slug")
    plan_command.add_argument("plan", help=f"one of: {', '.join(Plan)}")
    args = parser.parse_args(argv)
    try:
        if args.command == "create-demo-admin":
            create_demo_admin()
        elif args.command == "set-plan":
            set_plan(args.company, args.plan)
    except AppError as error:
        details = f" {json.dumps(error.details)}" if error.details else ""
        print(f"error: {error.message}{details}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
