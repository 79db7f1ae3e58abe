"""Writing to threads: post, edit, delete, follow; mentions, followers and notifications.

Every check happens before the first write, so a refused post leaves nothing behind; the
notifications of one post are one INSERT (rendered once per language), and e-mails are queued
through the core's outbox, sent after the commit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import after_this_request, current_app, has_request_context, render_template
from flask_babel import force_locale
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from conveyor import can, db, emit, send_mail, setting
from conveyor.i18n import _, _l
from conveyor.models import Notification, User, UserRole
from conveyor.types import utcnow

from .discussables import Discussable
from .events import PostCreated, PostDeleted
from .markdown import mentioned_usernames, render
from .models import Follower, Post, Thread

MAX_MENTIONS = 20
log = logging.getLogger("conveyor.discussions")


@dataclass
class Person:
    """What a post needs to know of a user: roles (who may see), language and e-mail choice."""

    id: int
    username: str
    locale: str | None
    email: str | None
    email_notifications: bool
    roles: list[str]


def people(*criteria: Any, join: Any = None) -> dict[int, Person]:
    """Active users matching ``criteria`` with their roles: one statement."""
    query = select(User.id, User.username, User.locale, User.email, User.email_notifications,
                   UserRole.role).outerjoin(UserRole, UserRole.user_id == User.id)
    if join is not None:
        query = query.join(*join)
    found: dict[int, Person] = {}
    for row in db.session.execute(query.where(User.active.is_(True), *criteria)):
        person = found.get(row.id)
        if person is None:
            person = found[row.id] = Person(row.id, row.username, row.locale, row.email,
                                            row.email_notifications, [])
        if row.role:
            person.roles.append(row.role)
    return found


class PostError(ValueError):
    """A refused post: ``field`` and a message for the form or the API (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Draft:
    """A post checked and ready to write: its text, rendering and mentioned users."""

    body: str
    html: str
    mentioned: list[Any]  # Person of each mentioned user


def check_body(body: Any, disc: Discussable, record: Any, author: Any) -> Draft:
    """Validate a post's Markdown and its mentions; raise :class:`PostError` on the first fault.

    A mention of someone who may not see the record is refused, with a message to the author
    (who sees the record) — the mentioned user is never told anything.
    """
    if not isinstance(body, str):
        raise PostError("body", _("Write the post as text."))
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise PostError("body", _("Write something first."))
    if "\x00" in body:
        raise PostError("body", _("The text must not contain NUL characters."))
    limit = setting("discussions.max_body_length")
    if len(body) > limit:
        raise PostError("body", _("Keep a post under %(limit)s characters.", limit=limit))
    names = mentioned_usernames(body)
    if len(names) > MAX_MENTIONS:
        raise PostError("body", _("Mention at most %(limit)s people in one post.",
                                  limit=MAX_MENTIONS))
    mentioned: list[Person] = []
    if names:
        found = {p.username.lower(): p for p in people(
            func.lower(User.username).in_(names)).values()}
        unknown = [n for n in names if n not in found]
        if unknown:
            raise PostError("body", _("There is no active user @%(name)s.", name=unknown[0]))
        mentioned = [found[n] for n in names if found[n].id != author.id]
        allowed = disc.who_may_see(record, {u.id for u in mentioned},
                                   {p.id: p.roles for p in found.values()})
        refused = [u for u in mentioned if u.id not in allowed]
        if refused:
            raise PostError("body", _(
                "@%(name)s may not see this record, so they cannot be mentioned here.",
                name=refused[0].username))
    return Draft(body=body, html=render(body), mentioned=mentioned)


def thread_of(resource: str, record_id: int) -> Thread | None:
    return db.session.scalar(select(Thread).where(Thread.resource == resource,
                                                  Thread.record_id == record_id))


def ensure_thread(disc: Discussable, record: Any) -> Thread:
    """The record's thread, created on first use (a concurrent creator's row is reused)."""
    thread = thread_of(disc.name, record.id)
    if thread is not None:
        return thread
    thread = Thread(resource=disc.name, record_id=record.id)
    try:
        with db.session.begin_nested():
            db.session.add(thread)
    except IntegrityError:
        thread = thread_of(disc.name, record.id)
        assert thread is not None
    return thread


def reply_parent(thread: Thread | None, reply_to: Any) -> Post | None:
    """The top-level post a reply hangs under: replies are one level deep, so a reply to a
    reply joins its parent's replies."""
    if reply_to in (None, ""):
        return None
    try:
        ident = int(reply_to)
    except (TypeError, ValueError):
        raise PostError("reply_to", _("Reply to a post of this thread.")) from None
    parent = None
    if thread is not None and 0 < ident <= 2147483647:
        parent = db.session.scalar(select(Post).where(Post.id == ident,
                                                      Post.thread_id == thread.id))
    if parent is None:
        raise PostError("reply_to", _("Reply to a post of this thread."))
    if parent.reply_to_id is not None:
        parent = db.session.get(Post, parent.reply_to_id)
    return parent


def create_post(disc: Discussable, record: Any, author: Any, body: Any,
                reply_to: Any = None, files: list[Any] | None = None) -> Post:
    """Post to ``record``'s thread: the post, its attachments, followers (the owner, the author,
    whoever is mentioned), notifications and e-mails. The caller commits."""
    from .attachments import check_files, store_files

    draft = check_body(body, disc, record, author)
    existing = thread_of(disc.name, record.id)
    parent = reply_parent(existing, reply_to)
    uploads = check_files(files or [])
    thread = existing or ensure_thread(disc, record)
    now = utcnow()
    post = Post(thread_id=thread.id, author_id=author.id,
                reply_to_id=parent.id if parent else None, body=draft.body, html=draft.html,
                mentions=[u.id for u in draft.mentioned], created_at=now)
    db.session.add(post)
    db.session.flush()
    store_files(post, uploads)
    thread.title = disc.label(record)[:200]
    thread.url = disc.url(record)[:500]
    thread.last_post_id = post.id
    thread.last_post_at = now
    thread.posts_count = Thread.posts_count + 1  # in SQL: concurrent posts both count
    owner = disc.owner_of(record)
    joining = {author.id, *(u.id for u in draft.mentioned)}
    if owner is not None:
        joining.add(owner)
    followers, known = _add_followers(thread, joining, author.id, post.id)
    known.update({p.id: p for p in draft.mentioned})
    mentioned_ids = {u.id for u in draft.mentioned}
    others = (followers - mentioned_ids - {author.id})
    notified = _notify(disc, record, thread, post, author, mentioned_ids, others, known)
    emit(PostCreated(post=post, resource=disc.name, record_id=record.id, notified=notified))
    return post


def _add_followers(thread: Thread, joining: set[int], author_id: int, post_id: int
                   ) -> tuple[set[int], dict[int, Person]]:
    """Make ``joining`` followers; return everyone following and what is known of them (one
    statement reads the followers with their roles, language and e-mail choice). The author
    re-follows by posting; anyone else keeps an unfollow made on purpose (a mention still
    reaches them, as a mention)."""
    rows: dict[int, bool] = {}
    known: dict[int, Person] = {}
    for row in db.session.execute(
            select(Follower.user_id, Follower.following, User.username, User.locale,
                   User.email, User.email_notifications, User.active, UserRole.role)
            .join(User, User.id == Follower.user_id)
            .outerjoin(UserRole, UserRole.user_id == Follower.user_id)
            .where(Follower.thread_id == thread.id)):
        rows[row.user_id] = row.following
        if row.active:
            person = known.get(row.user_id)
            if person is None:
                person = known[row.user_id] = Person(row.user_id, row.username, row.locale,
                                                     row.email, row.email_notifications, [])
            if row.role:
                person.roles.append(row.role)
    new = [{"thread_id": thread.id, "user_id": uid, "following": True,
            "last_read_post_id": post_id if uid == author_id else 0, "created_at": utcnow()}
           for uid in joining if uid not in rows]
    if new:
        db.session.execute(insert(Follower), new)
    if author_id in rows:
        db.session.execute(update(Follower).where(
            Follower.thread_id == thread.id, Follower.user_id == author_id)
            .values(following=True, last_read_post_id=post_id))
    following = {uid for uid, on in rows.items() if on} | {row["user_id"] for row in new} \
        | {author_id}
    return following, known


def _notify(disc: Discussable, record: Any, thread: Thread, post: Post, author: Any,
            mentioned: set[int], followers: set[int], known: dict[int, Person] | None = None
            ) -> list[int]:
    """One INSERT of in-app notifications (each in its reader's language) and an e-mail to
    whoever chose e-mail; only to users who may still see the record. ``known``: people read
    already (followers, mentioned); anyone else is read in one statement."""
    known = dict(known or {})
    missing = (mentioned | followers) - set(known)
    if missing:
        known.update(people(User.id.in_(missing)))
    roles = {uid: p.roles for uid, p in known.items()}
    # mentions were checked a moment ago (check_body); only the followers are asked here
    allowed = (mentioned & set(known)) | disc.who_may_see(
        record, (followers - mentioned) & set(known), roles)
    targets = [(uid, "discussions.mention") for uid in sorted(mentioned) if uid in allowed]
    targets += [(uid, "discussions.post") for uid in sorted(followers) if uid in allowed]
    if not targets:
        return []
    config = current_app.config["CONVEYOR"]
    who = author.label
    title = thread.title
    url = f"{thread.url}#post-{post.id}"
    messages = {
        "discussions.mention": _l("%(who)s mentioned you on %(title)s.", who=who, title=title),
        "discussions.post": _l("%(who)s posted on %(title)s.", who=who, title=title),
    }
    rendered: dict[tuple[str, str], str] = {}
    rows = []
    now = utcnow()
    for uid, kind in targets:
        locale = known[uid].locale
        lang = locale if locale in config["languages"] else config["default_locale"]
        if (lang, kind) not in rendered:
            with force_locale(lang):
                rendered[(lang, kind)] = str(messages[kind])[:500]
        rows.append({"user_id": uid, "message": rendered[(lang, kind)], "url": url[:500],
                     "kind": kind, "created_at": now})
        person = known[uid]
        if person.email_notifications and person.email:
            _mail(person.email, lang, kind, messages[kind], post, thread, who)
    db.session.execute(insert(Notification), rows)
    return [uid for uid, _k in targets]


def _mail(address: str, lang: str, kind: str, subject: Any, post: Post, thread: Thread,
          who: str) -> None:
    def text() -> str:
        return render_template("discussions/mail_text.html", post=post, thread=thread, who=who,
                               mention=kind == "discussions.mention")

    def html() -> str:
        return render_template("discussions/mail.html", post=post, thread=thread, who=who,
                               mention=kind == "discussions.mention")

    send_mail(address, subject, text, html, locale=lang, key=f"discussions:{post.id}:{address}")


def edit_post(post: Post, disc: Discussable, record: Any, user: Any, body: Any) -> Post:
    """The author edits within ``discussions.edit_minutes``; newly mentioned users are told."""
    if post.deleted_at is not None:
        raise PostError("body", _("This post was deleted."))
    if post.author_id != user.id:
        raise PostError("body", _("Only the author may edit a post."))
    if not editable_until(post) > utcnow():
        raise PostError("body", _("Posts can be edited for %(minutes)s minutes only.",
                                  minutes=setting("discussions.edit_minutes")))
    draft = check_body(body, disc, record, user)
    before = set(post.mentions or [])
    post.body, post.html = draft.body, draft.html
    post.mentions = [u.id for u in draft.mentioned]
    post.edited_at = utcnow()
    added = {u.id for u in draft.mentioned} - before
    if added:
        thread = db.session.get(Thread, post.thread_id)
        assert thread is not None
        _add_followers(thread, added, user.id, thread.last_post_id)
        _notify(disc, record, thread, post, user, added, set())
    return post


def editable_until(post: Post) -> Any:
    return post.created_at + timedelta(minutes=setting("discussions.edit_minutes"))


def may_edit(post: Post, user: Any) -> bool:
    return post.deleted_at is None and post.author_id == user.id \
        and editable_until(post) > utcnow()


def may_delete(post: Post, user: Any) -> bool:
    return post.deleted_at is None and (post.author_id == user.id
                                        or can(user, "discussions.moderate"))


def delete_post(post: Post, user: Any) -> Post:
    """Mark deleted with who and when; the row stays (replies keep their place), the text is
    no longer shown or served, and its attachments are no longer served."""
    if not may_delete(post, user):
        raise PostError("post", _("Only the author or an administrator may delete a post."))
    post.deleted_at = utcnow()
    post.deleted_by_id = user.id
    emit(PostDeleted(post=post, by=user))
    return post


def set_following(disc: Discussable, record: Any, user: Any, following: bool) -> None:
    """Follow or unfollow a record's thread (created on a first follow)."""
    thread = ensure_thread(disc, record)
    if not thread.title:
        thread.title = disc.label(record)[:200]
        thread.url = disc.url(record)[:500]
    row = db.session.get(Follower, (thread.id, user.id))
    if row is None:
        db.session.add(Follower(thread_id=thread.id, user_id=user.id, following=following,
                                last_read_post_id=thread.last_post_id or 0))
    else:
        row.following = following


def mark_read(thread: Any, follower: Any) -> None:
    """Move the reader's marker to the thread's last post (one UPDATE, only when behind).
    ``thread`` (``id``, ``last_post_id``) and ``follower`` (``user_id``,
    ``last_read_post_id``): ORM objects or the page's rows, or ``None``."""
    if thread is None or follower is None or follower.last_read_post_id >= thread.last_post_id:
        return
    db.session.execute(update(Follower).where(
        Follower.thread_id == thread.id, Follower.user_id == follower.user_id)
        .values(last_read_post_id=thread.last_post_id))
    if has_request_context():  # a page view: keep the marker although the page only reads
        after_this_request(_commit)


def _commit(response: Any) -> Any:
    """Keep the marker; it is a convenience, so a failure costs the marker, never the page."""
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not keep a discussion's unread marker", exc_info=True)
    return response


__all__ = ["PostError", "create_post", "delete_post", "edit_post", "set_following",
           "mark_read", "may_edit", "may_delete", "thread_of"]
