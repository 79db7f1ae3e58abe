"""Reading a thread: the first page of posts merged newest-first with the record's timeline.

A page costs a fixed number of statements whatever the thread's size: the thread with the
reader's follower row, the top-level posts with their replies (one statement), the timeline,
and the attachments only when a post shown has any. Rows are read as plain named tuples
(``conveyor.web.listing.plain_rows``), not through the ORM's execution layer.
Pages are keyed by time (``before``: the oldest item shown), not by OFFSET.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, exists, func, literal, select, union_all
from sqlalchemy.orm import aliased

from conveyor import setting
from conveyor.models import TimelineEntry, User
from conveyor.queries import written_limit
from conveyor.types import UTCDateTime
from conveyor.web.listing import plain_rows
from conveyor.web.timeline import card_timeline_statement

from .discussables import Discussable
from .models import Attachment, Follower, Post, Thread

# The core cards whose timeline a thread shown on them merges (the card then shows no box of its
# own): read with the card's statement, so a reader sees the entries the card would show them.
CARD_TIMELINES = ("deal", "customer")


@dataclass
class Item:
    """One row of the merged list: a post (with its replies) or a timeline entry."""

    kind: str  # "post" or "event"
    at: datetime
    post: Any = None
    replies: list[Any] = field(default_factory=list)
    event: Any = None


class ThreadRow(NamedTuple):
    """What a page reads of its thread (a row, not an ORM object: the card only reads it)."""

    id: int
    last_post_id: int


class FollowerRow(NamedTuple):
    """The reader's follower row of the thread."""

    user_id: int
    following: bool
    last_read_post_id: int


@dataclass
class ThreadPage:
    thread: ThreadRow | None
    follower: FollowerRow | None
    items: list[Item]
    next_before: datetime | None
    attachments: dict[int, list[Any]]
    last_read: int = 0  # the reader's marker as it was before this page moved it

    @property
    def following(self) -> bool:
        return bool(self.follower and self.follower.following)


def thread_with_follower(resource: str, record_id: int, user_id: int
                         ) -> tuple[ThreadRow | None, FollowerRow | None]:
    """The record's thread and ``user_id``'s follower row of it (either may be missing)."""
    rows = plain_rows(_thread_statement(), {
        "resource": resource, "record_id": record_id, "user_id": user_id})
    if not rows:
        return None, None
    row = rows[0]
    follower = None if row.follower_id is None else FollowerRow(
        row.follower_id, bool(row.following), row.last_read_post_id or 0)
    return ThreadRow(row.id, row.last_post_id or 0), follower


# Statements are built once per process (values enter as bind parameters): building one with
# its joins costs more than running it on a card.

@lru_cache(maxsize=1)
def _thread_statement() -> Any:
    return (select(Thread.id, Thread.last_post_id, Follower.user_id.label("follower_id"),
                   Follower.following, Follower.last_read_post_id).outerjoin(
        Follower, (Follower.thread_id == Thread.id) & (Follower.user_id == bindparam("user_id")))
        .where(Thread.resource == bindparam("resource"),
               Thread.record_id == bindparam("record_id")))


def _post_columns() -> Any:
    author = aliased(User)
    remover = aliased(User)
    has_files = exists().where(Attachment.post_id == Post.id)
    return (select(Post.id, Post.thread_id, Post.reply_to_id, Post.author_id, Post.body,
                   Post.html, Post.created_at, Post.edited_at, Post.deleted_at,
                   Post.deleted_by_id,
                   func.coalesce(func.nullif(author.display_name, ""), author.username)
                   .label("author_label"),
                   func.coalesce(func.nullif(remover.display_name, ""), remover.username)
                   .label("deleted_by_label"),
                   has_files.label("has_files"))
            .outerjoin(author, author.id == Post.author_id)
            .outerjoin(remover, remover.id == Post.deleted_by_id))


@lru_cache(maxsize=16)
def _posts(limit: int, paged: bool) -> Any:
    """A page's top-level posts of a thread, newest first (``thread_id``, ``before`` when
    paged), and the replies to them, in one statement: the top posts are picked in a CTE and
    the replies read by ``reply_to_id IN`` that CTE (``is_reply`` 1). ``has_files``: whether
    the post has attachments, so a page without any reads none."""
    top = select(Post.id).where(Post.thread_id == bindparam("thread_id"),
                                Post.reply_to_id.is_(None))
    if paged:
        top = top.where(Post.created_at < bindparam("before", type_=UTCDateTime))
    top = top.order_by(Post.created_at.desc(), Post.id.desc()).limit(
        written_limit(limit)).cte("top_posts")
    tops = _post_columns().add_columns(literal(0).label("is_reply")).where(
        Post.id.in_(select(top.c.id)))
    replies = _post_columns().add_columns(literal(1).label("is_reply")).where(
        Post.reply_to_id.in_(select(top.c.id)))
    return union_all(tops, replies)  # ordered in Python: a page holds a few dozen rows


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
    replies: dict[int, list[Any]] = {}
    if thread is not None:
        for row in plain_rows(_posts(size + 1, paged), {"thread_id": thread.id, **params}):
            if row.is_reply:
                replies.setdefault(row.reply_to_id, []).append(row)
            else:
                posts.append(row)
        posts.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        for found in replies.values():
            found.sort(key=lambda r: (r.created_at, r.id))
    events: list[Any] = []
    if disc.target in CARD_TIMELINES:  # what the card's own box would show this reader
        events = plain_rows(card_timeline_statement(disc.target, user, size + 1, paged),
                            {"record_id": record.id, **params})
    elif disc.timeline is not None:
        events = plain_rows(_events(disc.timeline, size + 1, paged),
                            {"record_id": record.id, **params})
    merged = sorted([Item("post", p.created_at, post=p) for p in posts]
                    + [Item("event", e.at, event=e) for e in events],
                    key=lambda item: item.at, reverse=True)
    more = len(merged) > size
    items = merged[:size]
    with_files: list[int] = []
    for item in items:
        if item.kind == "post":
            item.replies = replies.get(item.post.id, [])
            with_files += [p.id for p in (item.post, *item.replies) if p.has_files]
    attachments: dict[int, list[Any]] = {}
    if with_files:
        for att in plain_rows(_attachments(), {"ids": with_files}):
            attachments.setdefault(att.post_id, []).append(att)
    return ThreadPage(thread, follower, items, items[-1].at if more and items else None,
                      attachments, follower.last_read_post_id if follower else 0)
