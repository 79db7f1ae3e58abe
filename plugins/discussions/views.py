"""The discussion screens: the thread panel on cards, a thread page for any discussable,
posting, editing, deleting, following, mention suggestions, attachments and the inbox."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, or_, select

from conveyor import db, require, roles_holding
from conveyor.i18n import _
from conveyor.models import User, UserRole
from conveyor.queries import written_limit

from .attachments import path_of
from .discussables import Discussable, discussable, discussables, for_target
from .forms import ActionForm, EditForm, PostForm
from .models import Attachment, Follower, Post, Thread
from .reading import read_page
from .rows import Links, thread_items
from .services import (
    PostError,
    create_post,
    delete_post,
    edit_post,
    mark_read,
    may_edit,
    set_following,
)

bp = Blueprint("discussions", __name__, url_prefix="/discussions", template_folder="templates",
               static_folder="static", static_url_path="/static")
RECORD = "/<string:resource>/<int(max=2147483647):record_id>"
POST = "/posts/<int(max=2147483647):post_id>"
SUGGESTIONS = 8


def _record(resource: str, record_id: int) -> tuple[Discussable, Any]:
    """The discussable and its record, or 404 (unknown kind, or a record the user may not see)."""
    disc = discussable(resource)
    if disc is None:
        abort(404)
    record = disc.load_visible(record_id, current_user)
    if record is None:
        abort(404)
    return disc, record


def _post(post_id: int) -> tuple[Post, Discussable, Any]:
    post = db.session.get(Post, post_id)
    if post is None:
        abort(404)
    thread = db.session.get(Thread, post.thread_id)
    assert thread is not None
    disc, record = _record(thread.resource, thread.record_id)
    return post, disc, record


def _before() -> datetime | None:
    """The ``posts_before`` cursor (an ISO time); anything unreadable means the first page."""
    raw = request.args.get("posts_before", "")[:64]
    try:
        value = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def thread_context(disc: Discussable, record: Any, form: PostForm | None = None
                   ) -> dict[str, Any]:
    """What the thread template needs; reading it moves the reader's unread marker."""
    page = read_page(disc, record, current_user, _before())
    mark_read(page.thread, page.follower)
    links = Links(disc.name, record.id, generate_csrf(), current_user)
    return {"disc": disc, "record": record, "page": page, "form": form, "links": links,
            "thread_items": thread_items, "title": disc.label(record),
            "record_url": disc.url(record)}


def render_panel(record: Any, user: Any) -> str:
    """The thread panel on a deal or customer card (``register_panels``)."""
    from conveyor.models import Customer

    disc = for_target("customer" if isinstance(record, Customer) else "deal")
    if disc is None or disc.load is not None and disc.load_visible(record.id, user) is None:
        return ""
    return render_template("discussions/panel.html", **thread_context(disc, record))


@bp.get("/")
@require("discussions.use")
def inbox() -> Any:
    """Followed threads with posts the user has not read, newest first."""
    rows = list(db.session.execute(
        select(Thread, Follower.last_read_post_id).join(
            Follower, (Follower.thread_id == Thread.id) & (Follower.user_id == current_user.id))
        .where(Follower.following.is_(True), Thread.last_post_id > Follower.last_read_post_id)
        .order_by(Thread.last_post_at.desc(), Thread.id.desc()).limit(written_limit(100))))
    by_resource: dict[str, list[int]] = {}
    for thread, _last in rows:
        by_resource.setdefault(thread.resource, []).append(thread.record_id)
    visible = {name: discussables()[name].visible_ids(ids, current_user)
               for name, ids in by_resource.items() if name in discussables()}
    threads = [(t, last) for t, last in rows if t.record_id in visible.get(t.resource, set())]
    unread = {}
    if threads:
        unread = dict(db.session.execute(
            select(Post.thread_id, func.count()).join(
                Follower, (Follower.thread_id == Post.thread_id)
                & (Follower.user_id == current_user.id))
            .where(Post.thread_id.in_([t.id for t, _l in threads]),
                   Post.id > Follower.last_read_post_id, Post.deleted_at.is_(None))
            .group_by(Post.thread_id)).all())
    return render_template("discussions/inbox.html", threads=threads, unread=unread,
                           discussables=discussables())


@bp.get(RECORD)
@require("discussions.use")
def thread(resource: str, record_id: int) -> Any:
    disc, record = _record(resource, record_id)
    return render_template("discussions/thread.html", **thread_context(disc, record))


def _back(disc: Discussable, record: Any, anchor: str = "discussion") -> str:
    target = disc.url(record) if disc.target else url_for(
        ".thread", resource=disc.name, record_id=record.id)
    return f"{target}#{anchor}"


@bp.post(RECORD + "/posts")
@require("discussions.use")
def post(resource: str, record_id: int) -> Any:
    disc, record = _record(resource, record_id)
    form = PostForm()
    if form.validate_on_submit():
        try:
            created = create_post(disc, record, current_user._get_current_object(),
                                  form.body.data, form.reply_to.data or None,
                                  request.files.getlist(form.attachments.name))
            db.session.commit()
            return redirect(_back(disc, record, f"post-{created.id}"))
        except PostError as exc:
            db.session.rollback()
            getattr(form, exc.field, form.body).errors = [exc.message]
    return render_template("discussions/thread.html",
                           **thread_context(disc, record, form)), 422


@bp.route(POST + "/edit", methods=["GET", "POST"])
@require("discussions.use")
def edit(post_id: int) -> Any:
    post, disc, record = _post(post_id)
    if not may_edit(post, current_user):
        abort(403)
    form = EditForm(data={"body": post.body} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            edit_post(post, disc, record, current_user._get_current_object(), form.body.data)
            db.session.commit()
            return redirect(_back(disc, record, f"post-{post.id}"))
        except PostError as exc:
            db.session.rollback()
            form.body.errors = [exc.message]
    status = 422 if request.method == "POST" else 200
    return render_template("discussions/edit.html", form=form, post=post, disc=disc,
                           record=record, title=disc.label(record)), status


@bp.post(POST + "/delete")
@require("discussions.use")
def delete(post_id: int) -> Any:
    post, disc, record = _post(post_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        delete_post(post, current_user._get_current_object())
    except PostError:
        abort(403)
    db.session.commit()
    flash(_("The post was deleted."), "success")
    return redirect(_back(disc, record, f"post-{post.id}"))


@bp.post(RECORD + "/follow")
@require("discussions.use")
def follow(resource: str, record_id: int) -> Any:
    return _set_following(resource, record_id, True)


@bp.post(RECORD + "/unfollow")
@require("discussions.use")
def unfollow(resource: str, record_id: int) -> Any:
    return _set_following(resource, record_id, False)


def _set_following(resource: str, record_id: int, following: bool) -> Any:
    disc, record = _record(resource, record_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    set_following(disc, record, current_user._get_current_object(), following)
    db.session.commit()
    flash(_("You follow this discussion now.") if following
          else _("You no longer follow this discussion."), "success")
    return redirect(_back(disc, record))


@bp.get(RECORD + "/mentions")
@require("discussions.use")
def mentions(resource: str, record_id: int) -> Any:
    """People who may see the record and whose name starts with ``q``: JSON for the suggestion
    list under the text box. Only people who may see it are ever offered."""
    disc, record = _record(resource, record_id)
    q = request.args.get("q", "").strip().lstrip("@")[:80]
    query = (select(User).where(User.active.is_(True), User.id != current_user.id,
                                User.id.in_(select(UserRole.user_id).where(
                                    UserRole.role.in_(roles_holding(disc.permission)))))
             .order_by(User.username).limit(written_limit(40)))
    if q:
        like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(User.username.ilike(like, escape="\\"),
                                User.display_name.ilike(like, escape="\\")))
    candidates = list(db.session.scalars(query))
    allowed = disc.who_may_see(record, {u.id for u in candidates})
    found = [{"username": u.username, "label": u.label}
             for u in candidates if u.id in allowed][:SUGGESTIONS]
    return jsonify(found)


@bp.get("/attachments/<int(max=2147483647):attachment_id>")
@require("discussions.use")
def attachment(attachment_id: int) -> Any:
    """A post's file, only to whoever may see the record; always as a download."""
    att = db.session.get(Attachment, attachment_id)
    if att is None:
        abort(404)
    post, _disc, _record_ = _post(att.post_id)
    path = path_of(att.sha256)
    if post.deleted_at is not None or not path.is_file():
        abort(404)
    response = send_file(io.BytesIO(path.read_bytes()), mimetype=att.content_type,
                         as_attachment=True, download_name=att.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


__all__ = ["bp", "render_panel"]
