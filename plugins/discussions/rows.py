"""HTML of what a thread repeats: its posts, replies and timeline entries.

Python f-strings rather than a Jinja macro, as the core does for its lists
(``conveyor.web.rows``): a macro spent about a microsecond per ``{{ … }}`` and a page of posts
has hundreds. Safety is the same as autoescaping: every text goes through ``escape``; a post's
``html`` was sanitised by nh3 when it was saved (``markdown.render``) and is the only markup
inserted as is; ids are ``int``; URLs come from ``url_maker`` (escaped once).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import get_timezone
from markupsafe import Markup, escape

from conveyor import can, setting, timeline_label
from conveyor.i18n import _
from conveyor.types import utcnow
from conveyor.web import _datetime, _locale_name, url_maker


class Links:
    """The URLs and words a thread page repeats, made once per page."""

    def __init__(self, resource: str, record_id: int, token: str, user: Any) -> None:
        # who may edit or delete what, decided once per page (``services.may_edit`` and
        # ``may_delete`` per post read a setting and the roles each time)
        self.edit_after = utcnow() - timedelta(minutes=setting("discussions.edit_minutes"))
        self.moderator = can(user, "discussions.moderate")
        self.edit = url_maker("discussions.edit", "post_id")
        self.delete = url_maker("discussions.delete", "post_id")
        self.attachment = url_maker("discussions.attachment", "attachment_id")
        self.post = escape(url_for_post(resource, record_id))
        self.mentions = escape(url_for_mentions(resource, record_id))
        self.token = escape(token)
        self.words = {key: escape(text) for key, text in {
            "edit": _("Edit"), "delete": _("Delete"), "reply": _("Reply"),
            "edited": _("edited"), "new": _("new"), "someone": _("Someone"),
            "someone_lower": _("someone")}.items()}
        # what a post's HTML depends on besides its row and the reader's flags: the memo's key
        self.key = (_locale_name(), get_timezone(), self.edit.head, self.delete.head,
                    self.attachment.head, self.post, self.mentions,
                    tuple(sorted(self.words.items())))


def url_for_post(resource: str, record_id: int) -> str:
    from flask import url_for

    return url_for("discussions.post", resource=resource, record_id=record_id)


def url_for_mentions(resource: str, record_id: int) -> str:
    from flask import url_for

    return url_for("discussions.mentions", resource=resource, record_id=record_id)


def thread_items(page: Any, user: Any, links: Links) -> Markup:
    """The ``<li>`` of a page: posts with their replies and reply form, timeline entries.
    Each post's HTML is memoized (:func:`_post_html`) with the CSRF token left as a
    placeholder, filled in once for the page."""
    out = []
    for item in page.items:
        if item.kind == "event":
            e = item.event
            by = f" · {escape(e.by_label)}" if e.by_label else ""
            label = timeline_label(e.kind)
            out.append(f'<li class="event muted">{escape(_datetime(e.at))} · {escape(label)} '
                       f'{escape(e.message)}{by}</li>')
            continue
        post = item.post
        replies = ""
        if item.replies:
            replies = '<ul class="replies">' + "".join(
                f"<li>{_post(r, page, user, links)}</li>" for r in item.replies) + "</ul>"
        out.append(f"<li>{_post(post, page, user, links)}{replies}"
                   f"{'' if post.deleted_at else _reply_form(post.id, links)}</li>")
    return Markup("".join(out).replace(TOKEN, str(links.token)))


TOKEN = "\x00csrf\x00"  # where the page's CSRF token goes into memoized HTML


def _post(p: Any, page: Any, user: Any, links: Links) -> str:
    """A post's ``<article>``, memoized. The key holds everything the HTML is made of: the
    row's shown values (id, times, names, the sanitised ``html``), the reader's flags (unread,
    may edit, may delete), its files and the page's language, zone and links (``links.key``);
    the CSRF token is a placeholder filled in for the whole page."""
    mine = p.author_id == user.id
    files = page.attachments.get(p.id)
    key = ((p.id, p.created_at, p.edited_at, p.deleted_at, p.author_label,
            p.deleted_by_label, p.html), p.id > page.last_read and not mine,
           mine and p.created_at > links.edit_after, mine or links.moderator,
           tuple(tuple(a) for a in files) if files else (), links.key)
    html = _MEMO.get(key)
    if html is None:
        if len(_MEMO) >= MEMO_SIZE:
            _MEMO.clear()
        html = _MEMO[key] = _post_html(p, *key[1:4], files or (), links)
    return html


MEMO_SIZE = 5_000
_MEMO: dict[tuple[Any, ...], str] = {}


def _post_html(p: Any, unread: bool, editable: bool, deletable: bool, files: Any,
               links: Links) -> str:
    w = links.words
    header = (f'<strong>{escape(p.author_label or w["someone"])}</strong> · '
              f'{escape(_datetime(p.created_at))}')
    if p.edited_at and not p.deleted_at:
        header += f' · {w["edited"]}'
    if unread:
        header += f' <span class="tag">{w["new"]}</span>'
    if p.deleted_at:
        body = escape(_("Deleted by %(who)s on %(when)s.",
                        who=p.deleted_by_label or _("someone"), when=_datetime(p.deleted_at)))
        inner = f'<p class="muted deleted">{body}</p>'
    else:
        listing = ""
        if files:
            listing = '<ul class="attachments">' + "".join(
                f'<li><a href="{links.attachment(a.id)}" download>{escape(a.filename)}</a> '
                f'<span class="muted">({a.size / 1024:.1f} KB)</span></li>' for a in files
            ) + "</ul>"
        actions = ""
        if editable:
            actions += f'<a href="{links.edit(p.id)}">{w["edit"]}</a>'
        if deletable:
            actions += (f'<form method="post" action="{links.delete(p.id)}" class="inline">'
                        f'<input type="hidden" name="csrf_token" value="{TOKEN}">'
                        f'<button type="submit" class="danger">{w["delete"]}</button></form>')
        inner = (f'<div class="post-body">{p.html}</div>{listing}'
                 f'<div class="post-actions">{actions}</div>')
    return (f'<article class="post{" unread" if unread else ""}" id="post-{int(p.id)}">'
            f'<header class="muted">{header}</header>{inner}</article>')


def _reply_form(post_id: int, links: Links) -> str:
    w = links.words
    return (f'<details class="reply"><summary>{w["reply"]}</summary>'
            f'<form method="post" enctype="multipart/form-data" novalidate action="{links.post}">'
            f'<input type="hidden" name="csrf_token" value="{TOKEN}">'
            f'<input type="hidden" name="reply_to" value="{int(post_id)}">'
            f'<textarea name="body" rows="2" class="mention-input" autocomplete="off" '
            f'aria-label="{w["reply"]}" data-mentions-url="{links.mentions}"></textarea>'
            f'<ul class="mention-suggestions" hidden></ul>'
            f'<button type="submit">{w["reply"]}</button></form></details>')
