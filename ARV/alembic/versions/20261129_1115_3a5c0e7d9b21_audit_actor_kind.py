"""Audit entries record the kind of actor: member, support or system

Revision ID: 3a5c0e7d9b21
Revises: 7fe7fcea60dd
Create Date: 2026-11-29 11:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a5c0e7d9b21"
down_revision: str | None = "7fe7fcea60dd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("member", "support", "system", "public")


def upgrade() -> None:
    with op.batch_alter_table("audit_logs") as batch_op:
        batch_op.add_column(
            sa.Column(
                "actor_kind",
                sa.Enum(*_KINDS, name="actor_kind", native_enum=False, length=16),
                server_default="member",
                nullable=False,
            )
        )
    # Entries written without a user: an operator's plan change was the platform acting;
    # the rest (failed sign-ins for unknown addresses) were someone without identity.
    op.execute(
        sa.text(
            "UPDATE audit_logs SET actor_kind = CASE WHEN action = 'company.plan_changed' "
            "THEN 'system' ELSE 'public' END WHERE actor_user_id IS NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_logs") as batch_op:
        batch_op.drop_column("actor_kind")
