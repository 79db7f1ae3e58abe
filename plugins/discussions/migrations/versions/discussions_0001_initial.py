"""discussions: threads, posts, followers, attachments.

Revision ID: discussions_0001
Revises:
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "discussions_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discussions_thread",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("last_post_id", sa.Integer(), nullable=False),
        sa.Column("last_post_at", sa.DateTime(), nullable=True),
        sa.Column("posts_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_discussions_thread"),
        sa.UniqueConstraint("resource", "record_id", name="uq_discussions_thread_resource_record"),
    )
    op.create_table(
        "discussions_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("reply_to_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("edited_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["thread_id"], ["discussions_thread.id"], ondelete="CASCADE",
                                name="fk_discussions_post_thread_id_discussions_thread"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_discussions_post_author_id_users"),
        sa.ForeignKeyConstraint(["reply_to_id"], ["discussions_post.id"], ondelete="CASCADE",
                                name="fk_discussions_post_reply_to_id_discussions_post"),
        sa.ForeignKeyConstraint(["deleted_by_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_discussions_post_deleted_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_discussions_post"),
    )
    op.create_index("ix_discussions_post_thread_top", "discussions_post",
                    ["thread_id", "reply_to_id", "created_at"])
    op.create_index("ix_discussions_post_reply_to", "discussions_post", ["reply_to_id"])
    op.create_table(
        "discussions_follower",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("following", sa.Boolean(), nullable=False),
        sa.Column("last_read_post_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["thread_id"], ["discussions_thread.id"], ondelete="CASCADE",
                                name="fk_discussions_follower_thread_id_discussions_thread"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_discussions_follower_user_id_users"),
        sa.PrimaryKeyConstraint("thread_id", "user_id", name="pk_discussions_follower"),
    )
    op.create_index("ix_discussions_follower_user", "discussions_follower",
                    ["user_id", "following"])
    op.create_table(
        "discussions_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["discussions_post.id"], ondelete="CASCADE",
                                name="fk_discussions_attachment_post_id_discussions_post"),
        sa.PrimaryKeyConstraint("id", name="pk_discussions_attachment"),
    )
    op.create_index("ix_discussions_attachment_post_id", "discussions_attachment", ["post_id"])


def downgrade() -> None:
    op.drop_table("discussions_attachment")
    op.drop_table("discussions_follower")
    op.drop_table("discussions_post")
    op.drop_table("discussions_thread")
