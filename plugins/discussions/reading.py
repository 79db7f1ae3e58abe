"""Reading a thread: the first page of posts merged newest-first with the record's timeline.

A page costs a fixed number of statements whatever the thread's size: the thread with the
reader's follower row, the top-level posts, their replies, their attachments, the timeline.
Pages are keyed by time (``before``: the oldest item shown), not by OFFSET.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from conveyor import db, setting
from conveyor.models import TimelineEntry, User
from conveyor.queries import written_limit
from conveyor.types import UTCDateTime

from .discussables import Discussable
from .models import Attachment, Follower, Post, Thread


@dataclass
class Item:
    """One row of the merged list: a post (with its replies) or a timeline entry."""

    kind: str  # "post" or "event"
    at: datetime
    post: Any = None
    replies: list[Any] = field(default_factory=list)
    event: Any = None


@dataclass
class ThreadPage:
    thread: Thread | None
    follower: Follower | None
    items: list[Item]
    next_before: datetime | None
    attachments: dict[int, list[Any]]
    last_read: int = 0  # the reader's marker as it was before this page moved it

    @property
    def following(self) -> bool:
        return bool(self.follower and self.follower.following)


def thread_with_follower(resource: str, record_id: int, user_id: int
                         ) -> tuple[Thread | None, Follower | None]:
    row = db.session.execute(_thread_statement(), {
        "resource": resource, "record_id": record_id, "user_id": user_id}).first()
    return (row[0], row[1]) if row else (None, None)


# Statements are built once per process (values enter as bind parameters): building one with
# its joins costs more than running it on a card.

@lru_cache(maxsize=1)
def _thread_statement() -> Any:
    return (select(Thread, Follower).outerjoin(
        Follower, (Follower.thread_id == Thread.id) & (Follower.user_id == bindparam("user_id")))
        .where(Thread.resource == bindparam("resource"),
               Thread.record_id == bindparam("record_id")))


def _post_columns() -> Any:
    author = aliased(User)
    remover = aliased(User)
    return (select(Post.id, Post.thread_id, Post.reply_to_id, Post.author_id, Post.body,
                   Post.html, Post.created_at, Post.edited_at, Post.deleted_at,
                   Post.deleted_by_id,
                   func.coalesce(func.nullif(author.display_name, ""), author.username)
                   .label("author_label"),
                   func.coalesce(func.nullif(remover.display_name, ""), remover.username)
                   .label("deleted_by_label"))
            .outerjoin(author, author.id == Post.author_id)
            .outerjoin(remover, remover.id == Post.deleted_by_id))


@lru_cache(maxsize=16)
def _top_posts(limit: int, paged: bool) -> Any:
    """Top-level posts of a thread, newest first (``thread_id``, ``before`` when paged)."""
    query = _post_columns().where(Post.thread_id == bindparam("thread_id"),
                                  Post.reply_to_id.is_(None))
    if paged:
        query = query.where(Post.created_at < bindparam("before", type_=UTCDateTime))
    return query.order_by(Post.created_at.desc(), Post.id.desc()).limit(written_limit(limit))


@lru_cache(maxsize=1)
def _replies() -> Any:
    return _post_columns().where(Post.reply_to_id.in_(bindparam("ids", expanding=True))) \
        .order_by(Post.created_at, Post.id)


@lru_cache(maxsize=32)
def _events(column: Any, limit: int, paged: bool) -> Any:
    """The record's timeline entries (``column`` holds the record's id), newest first."""
    query = (select(TimelineEntry.id, TimelineEntry.at, TimelineEntry.kind,
                    TimelineEntry.message,
                    func.coalesce(func.nullif(User.display_name, ""), User.username)
                    .label("by_label"))
             .outerjoin(User, User.id == TimelineEntry.by_id)
             .where(column == bindparam("record_id")))
    if paged:
        query = query.where(TimelineEntry.at < bindparam("before", type_=UTCDateTime))
    return query.order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc()).limit(
        written_limit(limit))


@lru_cache(maxsize=1)
def _attachments() -> Any:
    return (select(Attachment.id, Attachment.post_id, Attachment.filename, Attachment.size,
                   Attachment.content_type)
            .where(Attachment.post_id.in_(bindparam("ids", expanding=True)))
            .order_by(Attachment.id))


def read_page(disc: Discussable, record: Any, user: Any, before: datetime | None = None,
              size: int | None = None) -> ThreadPage:
    """One page of the record's thread and timeline for ``user`` (who may see the record)."""
    size = size or setting("discussions.page_size")
    thread, follower = thread_with_follower(disc.name, record.id, user.id)
    paged = before is not None
    params = {"before": before} if paged else {}
    posts: list[Any] = []
    if thread is not None:
        posts = list(db.session.execute(_top_posts(size + 1, paged),
                                        {"thread_id": thread.id, **params}))
    events: list[Any] = []
    if disc.timeline is not None:
        events = list(db.session.execute(_events(disc.timeline, size + 1, paged),
                                         {"record_id": record.id, **params}))
    merged = sorted([Item("post", p.created_at, post=p) for p in posts]
                    + [Item("event", e.at, event=e) for e in events],
                    key=lambda item: item.at, reverse=True)
    more = len(merged) > size
    items = merged[:size]
    shown = [i.post for i in items if i.kind == "post"]
    replies: dict[int, list[Any]] = {}
    if shown:
        for reply in db.session.execute(_replies(), {"ids": [p.id for p in shown]}):
            replies.setdefault(reply.reply_to_id, []).append(reply)
        for item in items:
            if item.kind == "post":
                item.replies = replies.get(item.post.id, [])
    post_ids = [p.id for p in shown] + [r.id for rs in replies.values() for r in rs]
    attachments: dict[int, list[Any]] = {}
    if post_ids:
        for att in db.session.execute(_attachments(), {"ids": post_ids}):
            attachments.setdefault(att.post_id, []).append(att)
    return ThreadPage(thread, follower, items, items[-1].at if more and items else None,
                      attachments, follower.last_read_post_id if follower else 0)
