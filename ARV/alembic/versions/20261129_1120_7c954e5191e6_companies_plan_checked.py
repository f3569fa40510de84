"""A company's plan is checked: the database refuses a plan that does not exist

Until now an unknown plan was silently treated as free. Rows that hold one (only a hand
edit could write it) are put on free, what they already got, and listed in the log.

PostgreSQL gets a CHECK constraint. SQLite (`make run`) cannot add one without recreating
the table, and recreating `companies` with foreign keys on would cascade-delete every
row that references it; triggers refuse the same values there instead.

Revision ID: 7c954e5191e6
Revises: 029be4d6d78f
Create Date: 2026-11-29 11:20:23.220610+00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c954e5191e6"
down_revision: str | None = "029be4d6d78f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLANS = ("free", "pro", "business")
CONSTRAINT = "ck_companies_plan"
KNOWN = "plan IN ({})".format(", ".join(f"'{plan}'" for plan in PLANS))
SQLITE_TRIGGERS = {
    "ck_companies_plan_insert": "BEFORE INSERT ON companies",
    "ck_companies_plan_update": "BEFORE UPDATE OF plan ON companies",
}
logger = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    companies = sa.table("companies", sa.column("id"), sa.column("plan"))
    unknown = companies.c.plan.not_in(PLANS)
    for company_id, plan in op.get_bind().execute(
        sa.select(companies.c.id, companies.c.plan).where(unknown)
    ):
        logger.warning("company %s was on unknown plan %r; now on free", company_id, plan)
    op.execute(companies.update().where(unknown).values(plan="free"))

    if op.get_bind().dialect.name == "sqlite":
        for name, timing in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {timing} FOR EACH ROW WHEN NOT (NEW.{KNOWN}) "
                f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {CONSTRAINT}'); END"
            )
    else:
        op.create_check_constraint(op.f(CONSTRAINT), "companies", sa.text(KNOWN))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.drop_constraint(op.f(CONSTRAINT), "companies", type_="check")
