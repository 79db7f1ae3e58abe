"""Threads, posts, followers and attachments: discussions_* tables.

A thread belongs to one record of a discussable resource (``("deals", 12)``); it is created
with its first post and keeps the last post's id and time, so the inbox compares one number
per followed thread instead of scanning posts.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import db
from conveyor.types import UTCDateTime, utcnow


class Thread(db.Model):
    __tablename__ = "discussions_thread"
    __table_args__ = (UniqueConstraint("resource", "record_id",
                                       name="uq_discussions_thread_resource_record"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")  # the record's label, for the inbox
    url: Mapped[str] = mapped_column(String(500), default="")
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)
    last_post_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posts_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Post(db.Model):
    __tablename__ = "discussions_post"
    __table_args__ = (
        Index("ix_discussions_post_thread_top", "thread_id", "reply_to_id", "created_at"),
        Index("ix_discussions_post_reply_to", "reply_to_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("discussions_thread.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("discussions_post.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text, default="")  # the Markdown as written
    html: Mapped[str] = mapped_column(Text, default="")  # rendered and sanitised once, on save
    mentions: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Follower(db.Model):
    """Who follows a thread, and how far they have read it (the unread marker)."""

    __tablename__ = "discussions_follower"
    __table_args__ = (Index("ix_discussions_follower_user", "user_id", "following"),)

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("discussions_thread.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    following: Mapped[bool] = mapped_column(Boolean, default=True)
    last_read_post_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(db.Model):
    """A file on a post, stored under ``discussions.storage_dir`` by its SHA-256."""

    __tablename__ = "discussions_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("discussions_post.id", ondelete="CASCADE"),
                                         index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
