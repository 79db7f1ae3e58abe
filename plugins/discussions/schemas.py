"""Marshmallow schemas of the discussions API."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields

from conveyor.api.common import PageQuery, page_schema, ref_id


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    url = fields.String(metadata={"description": "Download (the same record rules apply)."})


class PostSchema(Schema):
    id = fields.Integer()
    resource = fields.String(metadata={"description": "`deals`, `customers`, `leads`, …"})
    record_id = fields.Integer()
    reply_to = fields.Integer(allow_none=True, metadata={
        "description": "The top-level post this one answers (replies are one level deep)."})
    author_id = fields.Integer(allow_none=True)
    body = fields.String(allow_none=True, metadata={
        "description": "The Markdown as written; null once deleted."})
    html = fields.String(allow_none=True, metadata={
        "description": "Rendered and sanitised HTML; null once deleted."})
    mentions = fields.List(fields.Integer(), metadata={"description": "Mentioned user ids."})
    created_at = fields.DateTime()
    edited_at = fields.DateTime(allow_none=True)
    editable_until = fields.DateTime()
    deleted_at = fields.DateTime(allow_none=True)
    deleted_by_id = fields.Integer(allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentSchema))


class PostCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    body = fields.String(required=True, metadata={
        "description": "Markdown; `@username` mentions someone who may see the record."})
    reply_to = ref_id(allow_none=True, metadata={"description": "A post of the same thread."})


class PostPatchSchema(Schema):
    class Meta:
        unknown = RAISE

    body = fields.String(required=True)


class FollowSchema(Schema):
    resource = fields.String()
    record_id = fields.Integer()
    following = fields.Boolean()


PostPageSchema = page_schema(PostSchema, "DiscussionPostPage")
PostQuerySchema = PageQuery
