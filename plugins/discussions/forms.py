"""WTForms of the discussions screens (CSRF-protected like every form)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, TextAreaField

from conveyor.i18n import _l


class PostForm(FlaskForm):
    body = TextAreaField(_l("Message"), render_kw={"rows": 3})
    reply_to = HiddenField()
    attachments = MultipleFileField(_l("Attachments"))


class EditForm(FlaskForm):
    body = TextAreaField(_l("Message"), render_kw={"rows": 5})


class ActionForm(FlaskForm):
    """Follow, unfollow, delete: a button that only carries the CSRF token."""
