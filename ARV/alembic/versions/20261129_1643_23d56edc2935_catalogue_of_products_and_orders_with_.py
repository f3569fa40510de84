"""The catalogue of products (prices in kopecks, RUB only, VAT rate, period) and orders,
with their lines (what the catalogue said when ordered) and timeline

Revision ID: 23d56edc2935
Revises: 9b6ea6c1dd4a
Create Date: 2026-11-29 16:43:59.414998+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "23d56edc2935"
down_revision: str | None = "9b6ea6c1dd4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "plan",
                "storage_addon",
                "content_pack",
                "print_service",
                name="product_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "plan_code",
            sa.Enum("free", "pro", "business", name="plan_code", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("quantity", sa.BigInteger(), nullable=True),
        sa.Column("price_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "vat_rate",
            sa.Enum(
                "none",
                "0",
                "5",
                "7",
                "10",
                "20",
                "22",
                name="vat_rate",
                native_enum=False,
                length=8,
            ),
            nullable=False,
        ),
        sa.Column("vat_included", sa.Boolean(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("month", "year", name="billing_period", native_enum=False, length=8),
            nullable=True,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("currency = 'RUB'", name=op.f("ck_products_currency_rub")),
        sa.CheckConstraint("price_kopecks >= 0", name=op.f("ck_products_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_index(op.f("ix_products_active"), "products", ["active"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "pending_payment",
                "paid",
                "fulfilled",
                "cancelled",
                "payment_failed",
                "refunded",
                "partially_refunded",
                name="order_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("vat_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("total_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("paid_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("refunded_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_orders_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_orders_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint(
            "company_id", "idempotency_key", name=op.f("uq_orders_company_id_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_orders_company_id"), "orders", ["company_id"], unique=False)
    op.create_index(op.f("ix_orders_status"), "orders", ["status"], unique=False)
    op.create_table(
        "order_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "draft",
                "pending_payment",
                "paid",
                "fulfilled",
                "cancelled",
                "payment_failed",
                "refunded",
                "partially_refunded",
                name="order_status",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "draft",
                "pending_payment",
                "paid",
                "fulfilled",
                "cancelled",
                "payment_failed",
                "refunded",
                "partially_refunded",
                name="order_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "actor_kind",
            sa.Enum(
                "member",
                "support",
                "system",
                "public",
                name="actor_kind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_order_events_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_order_events_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index(
        op.f("ix_order_events_company_id"), "order_events", ["company_id"], unique=False
    )
    op.create_index(op.f("ix_order_events_order_id"), "order_events", ["order_id"], unique=False)
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "plan",
                "storage_addon",
                "content_pack",
                "print_service",
                name="product_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "plan_code",
            sa.Enum("free", "pro", "business", name="plan_code", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("product_quantity", sa.BigInteger(), nullable=True),
        sa.Column(
            "period",
            sa.Enum("month", "year", name="billing_period", native_enum=False, length=8),
            nullable=True,
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_kopecks", sa.BigInteger(), nullable=False),
        sa.Column(
            "vat_rate",
            sa.Enum(
                "none",
                "0",
                "5",
                "7",
                "10",
                "20",
                "22",
                name="vat_rate",
                native_enum=False,
                length=8,
            ),
            nullable=False,
        ),
        sa.Column("vat_included", sa.Boolean(), nullable=False),
        sa.Column("net_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("vat_kopecks", sa.BigInteger(), nullable=False),
        sa.Column("total_kopecks", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_order_lines_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_order_lines_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    op.create_index(op.f("ix_order_lines_company_id"), "order_lines", ["company_id"], unique=False)
    op.create_index(op.f("ix_order_lines_order_id"), "order_lines", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_lines_order_id"), table_name="order_lines")
    op.drop_index(op.f("ix_order_lines_company_id"), table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_index(op.f("ix_order_events_order_id"), table_name="order_events")
    op.drop_index(op.f("ix_order_events_company_id"), table_name="order_events")
    op.drop_table("order_events")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_company_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_products_active"), table_name="products")
    op.drop_table("products")
