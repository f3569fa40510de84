"""Payments of orders through providers (the key that makes their creation idempotent,
the provider's id and status), and the provider notifications already processed

Revision ID: a5f52a5f5897
Revises: 23d56edc2935
Create Date: 2026-11-29 16:55:47.400425+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a5f52a5f5897"
down_revision: str | None = "23d56edc2935"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_payment_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_payment_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_payment_events")),
        sa.UniqueConstraint(
            "provider_payment_id",
            "event",
            "status",
            name=op.f("uq_processed_payment_events_provider_payment_id_event_status"),
        ),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column(
            "provider",
            sa.Enum("yookassa", name="payment_provider", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("idempotence_key", sa.String(length=64), nullable=False),
        sa.Column("provider_payment_id", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "waiting_for_capture",
                "succeeded",
                "canceled",
                name="payment_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("amount_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("confirmation_url", sa.Text(), nullable=True),
        sa.Column("flagged", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_payments_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("idempotence_key", name=op.f("uq_payments_idempotence_key")),
        sa.UniqueConstraint("provider_payment_id", name=op.f("uq_payments_provider_payment_id")),
    )
    op.create_index(op.f("ix_payments_company_id"), "payments", ["company_id"], unique=False)
    op.create_index(op.f("ix_payments_order_id"), "payments", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_payments_order_id"), table_name="payments")
    op.drop_index(op.f("ix_payments_company_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_table("processed_payment_events")
