"""Plans as data (the three plans there were, with the limits they had in code), what paid
orders give companies (entitlements), bank transfers, refunds' reversals, and invoices
numbered per company and year

Revision ID: ed40fb19db1f
Revises: 5a687ee91426
Create Date: 2026-11-29 18:25:31.131438+00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

MIB = 1024**2
GIB = 1024**3
NOW = datetime(2026, 11, 29, tzinfo=UTC)
# As `app.services.plans.PLANS` had them before this migration.
PLANS = [
    {
        "code": "free",
        "name": "Free",
        "max_members": 3,
        "storage_bytes": 1 * GIB,
        "max_ar_contents": 5,
        "max_file_bytes": 500 * MIB,
        "max_video_seconds": 5 * 60,
        "max_video_short_side": 1080,
        "features": [],
    },
    {
        "code": "pro",
        "name": "Pro",
        "max_members": 20,
        "storage_bytes": 50 * GIB,
        "max_ar_contents": 200,
        "max_file_bytes": 5 * GIB,
        "max_video_seconds": 30 * 60,
        "max_video_short_side": 2160,
        "features": ["hls", "analytics"],
    },
    {
        "code": "business",
        "name": "Business",
        "max_members": 200,
        "storage_bytes": 500 * GIB,
        "max_ar_contents": 5000,
        "max_file_bytes": 20 * GIB,
        "max_video_seconds": 2 * 3600,
        "max_video_short_side": 2160,
        "features": ["hls", "analytics", "custom_branding"],
    },
]


revision: str = "ed40fb19db1f"
down_revision: str | None = "5a687ee91426"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "code",
            sa.Enum("free", "pro", "business", name="plan_code", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("max_members", sa.Integer(), nullable=False),
        sa.Column("storage_bytes", sa.BigInteger(), nullable=False),
        sa.Column("max_ar_contents", sa.Integer(), nullable=False),
        sa.Column("max_file_bytes", sa.BigInteger(), nullable=False),
        sa.Column("max_video_seconds", sa.Integer(), nullable=False),
        sa.Column("max_video_short_side", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_plans_code")),
    )
    op.bulk_insert(
        plans,
        [{"id": uuid.uuid4(), "created_at": NOW, "updated_at": NOW, **plan} for plan in PLANS],
    )
    op.create_table(
        "invoice_counters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_invoice_counters_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_counters")),
        sa.UniqueConstraint("company_id", "year", name=op.f("uq_invoice_counters_company_id_year")),
    )
    op.create_index(
        op.f("ix_invoice_counters_company_id"), "invoice_counters", ["company_id"], unique=False
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "rendering",
                "ready",
                "failed",
                name="invoice_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("storage_key", sa.String(length=512), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_invoices_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_invoices_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint(
            "company_id", "year", "sequence", name=op.f("uq_invoices_company_id_year_sequence")
        ),
        sa.UniqueConstraint("order_id", name=op.f("uq_invoices_order_id")),
    )
    op.create_index(op.f("ix_invoices_company_id"), "invoices", ["company_id"], unique=False)
    op.create_table(
        "entitlements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "plan", "storage", "contents", name="entitlement_kind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column(
            "plan_code",
            sa.Enum("free", "pro", "business", name="plan_code", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewal_order_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_entitlements_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_entitlements_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_entitlements_order_line_id_order_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["renewal_order_id"],
            ["orders.id"],
            name=op.f("fk_entitlements_renewal_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements")),
        sa.UniqueConstraint("order_line_id", name=op.f("uq_entitlements_order_line_id")),
    )
    op.create_index(
        op.f("ix_entitlements_company_id"), "entitlements", ["company_id"], unique=False
    )
    op.create_index(op.f("ix_entitlements_ends_at"), "entitlements", ["ends_at"], unique=False)
    op.create_index(op.f("ix_entitlements_order_id"), "entitlements", ["order_id"], unique=False)
    op.add_column("payments", sa.Column("paid_on", sa.Date(), nullable=True))
    op.add_column("payments", sa.Column("reference", sa.String(length=200), nullable=True))
    op.add_column("payments", sa.Column("recorded_by_id", sa.Uuid(), nullable=True))
    if not _is_sqlite():
        op.create_foreign_key(
            op.f("fk_payments_recorded_by_id_users"),
            "payments",
            "users",
            ["recorded_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.add_column("refunds", sa.Column("requested_by_id", sa.Uuid(), nullable=True))
    op.add_column("refunds", sa.Column("reversed", sa.Text(), nullable=True))
    op.add_column("refunds", sa.Column("not_reversed", sa.Text(), nullable=True))
    if not _is_sqlite():
        # SQLite would have to recreate the tables, which cascades to their children; there,
        # the columns go without the constraints.
        op.create_foreign_key(
            op.f("fk_refunds_requested_by_id_users"),
            "refunds",
            "users",
            ["requested_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        op.create_check_constraint(
            op.f("ck_orders_refunds_within_paid"), "orders", "refunded_kopecks <= paid_kopecks"
        )


def downgrade() -> None:
    if not _is_sqlite():
        op.drop_constraint(op.f("ck_orders_refunds_within_paid"), "orders", type_="check")
        op.drop_constraint(op.f("fk_refunds_requested_by_id_users"), "refunds", type_="foreignkey")
        op.drop_constraint(op.f("fk_payments_recorded_by_id_users"), "payments", type_="foreignkey")
    op.drop_column("refunds", "not_reversed")
    op.drop_column("refunds", "reversed")
    op.drop_column("refunds", "requested_by_id")
    op.drop_column("payments", "recorded_by_id")
    op.drop_column("payments", "reference")
    op.drop_column("payments", "paid_on")
    op.drop_index(op.f("ix_entitlements_order_id"), table_name="entitlements")
    op.drop_index(op.f("ix_entitlements_ends_at"), table_name="entitlements")
    op.drop_index(op.f("ix_entitlements_company_id"), table_name="entitlements")
    op.drop_table("entitlements")
    op.drop_index(op.f("ix_invoices_company_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_index(op.f("ix_invoice_counters_company_id"), table_name="invoice_counters")
    op.drop_table("invoice_counters")
    op.drop_table("plans")


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"
