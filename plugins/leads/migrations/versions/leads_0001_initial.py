"""leads: rules, forms, imports, leads, assignments, activities, staged import rows.

Revision ID: leads_0001
Revises:
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "leads_0001"
down_revision = None
branch_labels = None
depends_on = None


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _fk(table: str, column: str, target: str, ondelete: str | None = None,
        ) -> sa.ForeignKeyConstraint:
    ref = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], ondelete=ondelete,
                                   name=f"fk_{table}_{column}_{ref}")


def _text(name: str, length: int | None = None) -> sa.Column:
    return sa.Column(name, sa.String(length=length) if length else sa.Text(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "leads_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("name", 120),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("industry", 300), _text("region", 300), _text("size", 120), _text("source", 300),
        sa.Column("hour_from", sa.Integer(), nullable=True),
        sa.Column("hour_to", sa.Integer(), nullable=True),
        _text("strategy", 20),
        sa.Column("rr_cursor", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _pk("leads_rule"),
    )
    op.create_table(
        "leads_rule_seller",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _fk("leads_rule_seller", "rule_id", "leads_rule.id", "CASCADE"),
        _fk("leads_rule_seller", "user_id", "users.id", "CASCADE"),
        _pk("leads_rule_seller"),
        sa.UniqueConstraint("rule_id", "user_id", name="uq_leads_rule_seller_rule_id"),
    )
    op.create_index("ix_leads_rule_seller_user_id", "leads_rule_seller", ["user_id"])
    op.create_table(
        "leads_form",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("key", 60), _text("name", 120), _text("source", 80),
        sa.Column("fields", sa.JSON(), nullable=False),
        _text("thank_you_url", 500),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("leads_form", "rule_id", "leads_rule.id", "SET NULL"),
        _pk("leads_form"),
        sa.UniqueConstraint("key", name="uq_leads_form_key"),
    )
    op.create_table(
        "leads_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        _text("source", 80), _text("filename", 255), _text("encoding", 20), _text("status", 20),
        _text("owner_mode", 10),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in (
            "total_rows", "processed", "valid_rows", "error_rows", "merge_rows", "imported",
            "merged", "assigned")],
        _text("message"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        _fk("leads_import", "created_by_id", "users.id"),
        _fk("leads_import", "owner_id", "users.id"),
        _pk("leads_import"),
    )
    op.create_table(
        "leads_lead",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("company", 200), _text("name", 200), _text("email", 254),
        _text("email_normalized", 254), _text("phone", 40), _text("phone_e164", 20),
        _text("company_normalized", 200), _text("tax_id", 40), _text("industry", 80),
        _text("region", 80), _text("size", 20), _text("notes"), _text("products", 500),
        _text("source", 80),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True),
        _text("status", 20), _text("disqualify_reason", 200),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        _fk("leads_lead", "form_id", "leads_form.id", "SET NULL"),
        _fk("leads_lead", "import_id", "leads_import.id", "SET NULL"),
        _fk("leads_lead", "owner_id", "users.id"),
        _fk("leads_lead", "created_by_id", "users.id"),
        _fk("leads_lead", "customer_id", "customers.id", "SET NULL"),
        _fk("leads_lead", "contact_id", "contacts.id", "SET NULL"),
        _fk("leads_lead", "deal_id", "deals.id", "SET NULL"),
        _pk("leads_lead"),
        sa.UniqueConstraint("dedupe_key", name="uq_leads_lead_dedupe_key"),
    )
    op.create_index("ix_leads_lead_owner_status", "leads_lead", ["owner_id", "status"])
    op.create_index("ix_leads_lead_status_created", "leads_lead", ["status", "created_at"])
    for column in ("email_normalized", "phone_e164", "company_normalized", "source", "import_id",
                   "customer_id", "processed_at"):
        op.create_index(f"ix_leads_lead_{column}", "leads_lead", [column])
    op.create_table(
        "leads_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("previous_owner_id", sa.Integer(), nullable=True),
        _text("reason", 40), _text("detail", 300),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        _fk("leads_assignment", "lead_id", "leads_lead.id", "CASCADE"),
        _fk("leads_assignment", "owner_id", "users.id"),
        _fk("leads_assignment", "previous_owner_id", "users.id"),
        _fk("leads_assignment", "by_id", "users.id"),
        _pk("leads_assignment"),
    )
    op.create_index("ix_leads_assignment_lead_at", "leads_assignment", ["lead_id", "at"])
    op.create_table(
        "leads_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        _text("kind", 40), _text("note"),
        sa.Column("at", sa.DateTime(), nullable=False),
        _fk("leads_activity", "lead_id", "leads_lead.id", "CASCADE"),
        _fk("leads_activity", "by_id", "users.id"),
        _pk("leads_activity"),
    )
    op.create_index("ix_leads_activity_lead_at", "leads_activity", ["lead_id", "at"])
    op.create_table(
        "leads_import_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        _text("company", 200), _text("name", 200), _text("email", 254),
        _text("email_normalized", 254), _text("phone", 40), _text("phone_e164", 20),
        _text("company_normalized", 200), _text("tax_id", 40), _text("industry", 80),
        _text("region", 80), _text("size", 20), _text("notes"), _text("products", 500),
        sa.Column("dedupe_key", sa.String(length=300), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("merge_lead_id", sa.Integer(), nullable=True),
        _text("errors"),
        _fk("leads_import_row", "import_id", "leads_import.id", "CASCADE"),
        _pk("leads_import_row"),
    )
    op.create_index("ix_leads_import_row_import_row", "leads_import_row", ["import_id", "row_no"])


def downgrade() -> None:
    for table in ("leads_import_row", "leads_activity", "leads_assignment", "leads_lead",
                  "leads_import", "leads_form", "leads_rule_seller", "leads_rule"):
        op.drop_table(table)
