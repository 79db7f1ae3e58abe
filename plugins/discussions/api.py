"""REST: /api/v1/{resource}/{id}/posts for every discussable resource, /api/v1/posts/{id},
and following. Record rules as on the web: a record one may not see is a 404, thread and all."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from conveyor import db, require
from conveyor.api.common import (
    acting_user,
    errors,
    field_error,
    id_rule,
    keyset_page,
    not_found,
    saving,
)

from .discussables import Discussable, discussable
from .models import Attachment, Follower, Post, Thread
from .schemas import (
    FollowSchema,
    PostCreateSchema,
    PostPageSchema,
    PostPatchSchema,
    PostQuerySchema,
    PostSchema,
)
from .services import (
    PostError,
    create_post,
    delete_post,
    edit_post,
    editable_until,
    mark_read,
    set_following,
    thread_of,
)

blp = Blueprint("discussions_api", __name__, url_prefix="/api/v1/",
                description="Discussion threads on records (deals, customers, leads, and what "
                            "other plugins register).")
RECORD = "/<string:resource>/" + id_rule("record_id")
POST = "/posts/" + id_rule("post_id")


def _record(resource: str, record_id: int) -> tuple[Discussable, Any]:
    disc = discussable(resource)
    record = disc.load_visible(record_id, current_user) if disc else None
    if disc is None or record is None:
        not_found("record")
    return disc, record  # type: ignore[return-value]


def _post(post_id: int) -> tuple[Post, Thread, Discussable, Any]:
    post = db.session.get(Post, post_id)
    thread = db.session.get(Thread, post.thread_id) if post else None
    if post is None or thread is None:
        not_found("post")
    disc = discussable(thread.resource)  # type: ignore[union-attr]
    record = disc.load_visible(thread.record_id, current_user) if disc else None  # type: ignore
    if record is None:
        not_found("post")
    return post, thread, disc, record  # type: ignore[return-value]


def serialise(posts: list[Post], thread: Thread) -> list[dict[str, Any]]:
    """Posts as the API shows them, their attachments read in one statement."""
    files: dict[int, list[dict[str, Any]]] = {}
    if posts:
        for att in db.session.scalars(select(Attachment).where(
                Attachment.post_id.in_([p.id for p in posts])).order_by(Attachment.id)):
            files.setdefault(att.post_id, []).append({
                "id": att.id, "filename": att.filename, "size": att.size,
                "content_type": att.content_type,
                "url": url_for("discussions.attachment", attachment_id=att.id)})
    out = []
    for post in posts:
        gone = post.deleted_at is not None
        out.append({
            "id": post.id, "resource": thread.resource, "record_id": thread.record_id,
            "reply_to": post.reply_to_id, "author_id": post.author_id,
            "body": None if gone else post.body, "html": None if gone else post.html,
            "mentions": post.mentions or [], "created_at": post.created_at,
            "edited_at": post.edited_at, "editable_until": editable_until(post),
            "deleted_at": post.deleted_at, "deleted_by_id": post.deleted_by_id,
            "attachments": [] if gone else files.get(post.id, [])})
    return out


@blp.route(RECORD + "/posts")
class Posts(MethodView):
    @require("discussions.use")
    @errors(401, 403, 404)
    @blp.arguments(PostQuerySchema, location="query")
    @blp.response(200, PostPageSchema)
    def get(self, args: dict[str, Any], resource: str, record_id: int) -> Any:
        """List a record's posts

        Newest first (replies included, each naming its `reply_to`), a page at a time.
        `resource` is `deals`, `customers`, `leads` (with the leads plugin) or any resource
        another plugin registers. Reading moves your unread marker.
        """
        disc, record = _record(resource, record_id)
        thread = thread_of(disc.name, record.id)
        page, headers = keyset_page(select(Post).where(
            Post.thread_id == (thread.id if thread else 0)), Post.id, args)
        if thread is None:
            return page, 200, headers
        page["items"] = serialise(page["items"], thread)
        mark_read(thread, db.session.get(Follower, (thread.id, current_user.id)))
        return page, 200, headers

    @require("discussions.use")
    @errors(401, 403, 404, 422)
    @blp.arguments(PostCreateSchema)
    @blp.response(201, PostSchema)
    def post(self, data: dict[str, Any], resource: str, record_id: int) -> Any:
        """Post to a record's thread

        Markdown in `body`; `@username` mentions a colleague who may see the record (anyone
        else is refused with a message on `body`). The owner, the author and whoever is
        mentioned follow the thread; followers are notified.
        """
        disc, record = _record(resource, record_id)
        with saving():
            try:
                post = create_post(disc, record, acting_user(), data["body"],
                                   data.get("reply_to"))
            except PostError as exc:
                db.session.rollback()
                field_error(exc.field, exc.message)
        thread = db.session.get(Thread, post.thread_id)
        return serialise([post], thread)[0]  # type: ignore[arg-type]


@blp.route(POST)
class OnePost(MethodView):
    @require("discussions.use")
    @errors(401, 403, 404)
    @blp.response(200, PostSchema)
    def get(self, post_id: int) -> Any:
        """Get a post"""
        post, thread, _disc, _record_ = _post(post_id)
        return serialise([post], thread)[0]

    @require("discussions.use")
    @errors(401, 403, 404, 422)
    @blp.arguments(PostPatchSchema)
    @blp.response(200, PostSchema)
    def patch(self, data: dict[str, Any], post_id: int) -> Any:
        """Edit a post

        Only its author, within `discussions.edit_minutes` of posting (403 otherwise).
        """
        post, thread, disc, record = _post(post_id)
        if post.author_id != current_user.id or post.deleted_at is not None:
            abort(403, message="Only the author may edit a post that is not deleted.")
        with saving():
            try:
                edit_post(post, disc, record, acting_user(), data["body"])
            except PostError as exc:
                db.session.rollback()
                field_error(exc.field, exc.message)
        return serialise([post], thread)[0]

    @require("discussions.use")
    @errors(401, 403, 404)
    @blp.response(204)
    def delete(self, post_id: int) -> None:
        """Delete a post

        Its author or someone holding `discussions.moderate`. The post stays in the thread as
        deleted, with who and when; its text and files are no longer served.
        """
        post, _thread, _disc, _record_ = _post(post_id)
        with saving():
            try:
                delete_post(post, acting_user())
            except PostError as exc:
                db.session.rollback()
                abort(403, message=exc.message)


@blp.route(RECORD + "/follow")
class Follow(MethodView):
    @require("discussions.use")
    @errors(401, 403, 404)
    @blp.response(200, FollowSchema)
    def post(self, resource: str, record_id: int) -> Any:
        """Follow a record's thread

        You are then notified of new posts (by e-mail too if your profile says so).
        """
        return _following(resource, record_id, True)

    @require("discussions.use")
    @errors(401, 403, 404)
    @blp.response(200, FollowSchema)
    def delete(self, resource: str, record_id: int) -> Any:
        """Unfollow a record's thread

        Posting to it, or being mentioned, makes you follow it again.
        """
        return _following(resource, record_id, False)


def _following(resource: str, record_id: int, following: bool) -> dict[str, Any]:
    disc, record = _record(resource, record_id)
    with saving():
        set_following(disc, record, acting_user(), following)
    return {"resource": disc.name, "record_id": record.id, "following": following}
