"""Reading a thread: the first page of posts merged newest-first with the record's timeline.

A page costs a fixed number of statements whatever the thread's size: the thread with the
reader's follower row, the top-level posts, their replies, their attachments, the timeline.
Pages are keyed by time (``before``: the oldest item shown), not by OFFSET.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from conveyor import db, setting
from conveyor.models import TimelineEntry, User
from conveyor.queries import written_limit

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
    row = db.session.execute(
        select(Thread, Follower).outerjoin(Follower, (Follower.thread_id == Thread.id)
                                           & (Follower.user_id == user_id))
        .where(Thread.resource == resource, Thread.record_id == record_id)).first()
    return (row[0], row[1]) if row else (None, None)


def _post_rows(*criteria: Any, limit: int | None = None, order_desc: bool = True) -> list[Any]:
    author = aliased(User)
    remover = aliased(User)
    query = (select(Post.id, Post.thread_id, Post.reply_to_id, Post.author_id, Post.body,
                    Post.html, Post.created_at, Post.edited_at, Post.deleted_at,
                    Post.deleted_by_id,
                    func.coalesce(func.nullif(author.display_name, ""), author.username)
                    .label("author_label"),
                    func.coalesce(func.nullif(remover.display_name, ""), remover.username)
                    .label("deleted_by_label"))
             .outerjoin(author, author.id == Post.author_id)
             .outerjoin(remover, remover.id == Post.deleted_by_id).where(*criteria))
    if order_desc:
        query = query.order_by(Post.created_at.desc(), Post.id.desc())
    else:
        query = query.order_by(Post.created_at, Post.id)
    if limit is not None:
        query = query.limit(written_limit(limit))
    return list(db.session.execute(query))


def read_page(disc: Discussable, record: Any, user: Any, before: datetime | None = None,
              size: int | None = None) -> ThreadPage:
    """One page of the record's thread and timeline for ``user`` (who may see the record)."""
    size = size or setting("discussions.page_size")
    thread, follower = thread_with_follower(disc.name, record.id, user.id)
    posts: list[Any] = []
    if thread is not None:
        criteria = [Post.thread_id == thread.id, Post.reply_to_id.is_(None)]
        if before is not None:
            criteria.append(Post.created_at < before)
        posts = _post_rows(*criteria, limit=size + 1)
    events: list[Any] = []
    if disc.timeline is not None:
        criteria = [disc.timeline(record)]
        if before is not None:
            criteria.append(TimelineEntry.at < before)
        events = list(db.session.execute(
            select(TimelineEntry.id, TimelineEntry.at, TimelineEntry.kind, TimelineEntry.message,
                   func.coalesce(func.nullif(User.display_name, ""), User.username)
                   .label("by_label"))
            .outerjoin(User, User.id == TimelineEntry.by_id).where(*criteria)
            .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
            .limit(written_limit(size + 1))))
    merged = sorted([Item("post", p.created_at, post=p) for p in posts]
                    + [Item("event", e.at, event=e) for e in events],
                    key=lambda item: item.at, reverse=True)
    more = len(merged) > size
    items = merged[:size]
    shown = [i.post for i in items if i.kind == "post"]
    replies: dict[int, list[Any]] = {}
    if shown:
        for reply in _post_rows(Post.reply_to_id.in_([p.id for p in shown]), order_desc=False):
            replies.setdefault(reply.reply_to_id, []).append(reply)
        for item in items:
            if item.kind == "post":
                item.replies = replies.get(item.post.id, [])
    post_ids = [p.id for p in shown] + [r.id for rs in replies.values() for r in rs]
    attachments: dict[int, list[Any]] = {}
    if post_ids:
        for att in db.session.execute(
                select(Attachment.id, Attachment.post_id, Attachment.filename,
                       Attachment.size, Attachment.content_type)
                .where(Attachment.post_id.in_(post_ids)).order_by(Attachment.id)):
            attachments.setdefault(att.post_id, []).append(att)
    return ThreadPage(thread, follower, items, items[-1].at if more and items else None,
                      attachments, follower.last_read_post_id if follower else 0)
