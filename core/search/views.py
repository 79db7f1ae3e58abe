"""The search box's pages: results grouped by kind (``/search``) and suggestions as you type
(``/search/suggest``, JSON, read by ``static/search.js``; without JavaScript the box is a plain
form that opens the results page)."""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_login import current_user

from ..i18n import _
from ..permissions import login_required
from .engine import KindResult, search, visible_kinds
from .terms import MAX_LENGTH, MIN_LENGTH, MIN_LENGTH_CJK, QueryError, parse

bp = Blueprint("search", __name__, url_prefix="/search")
PER_KIND = 10  # hits per group on the results page
PER_KIND_ONE = 50  # when the page shows a single kind
SUGGESTIONS = 5  # per kind, as you type


def error_message(error: QueryError) -> str:
    """The field message for a query that can't be searched for, in the reader's language."""
    if error.code == "too_long":
        return _("Type at most %(count)d characters.", count=MAX_LENGTH)
    if error.code == "too_short":
        return _("Type at least %(count)d characters (%(cjk)d in Chinese).",
                 count=MIN_LENGTH, cjk=MIN_LENGTH_CJK)
    return _("Type a name, phone, e-mail or tax id to search for.")


def hit_dict(hit: Any) -> dict[str, Any]:
    return {"kind": hit.kind, "id": hit.id, "title": hit.title, "detail": hit.detail,
            "url": hit.url, "phones": list(hit.phones), "emails": list(hit.emails)}


def group_dict(result: KindResult, with_count: bool = True) -> dict[str, Any]:
    group: dict[str, Any] = {"kind": result.kind.name, "label": str(result.kind.label),
                             "hits": [hit_dict(h) for h in result.hits]}
    if with_count:
        group["count"] = result.count
        group["more"] = result.more_than is not None
    return group


@bp.get("/")
@login_required
def results() -> Any:
    raw = request.args.get("q", "")
    kinds = visible_kinds(current_user)
    only = request.args.get("kind", "")
    only = only if any(k.name == only for k in kinds) else None
    if not raw.strip():
        return render_template("search/results.html", q="", kinds=kinds, only=only,
                               groups=None, error=None)
    try:
        terms = parse(raw)
    except QueryError as error:
        return render_template("search/results.html", q=raw[:MAX_LENGTH * 2], kinds=kinds,
                               only=only, groups=None, error=error_message(error)), 400
    shown = PER_KIND_ONE if only else PER_KIND
    groups = search(terms, current_user, shown, count_up_to=shown, only=only)
    return render_template("search/results.html", q=terms.text, kinds=kinds, only=only,
                           groups=groups, error=None,
                           total=sum(g.count for g in groups))


@bp.get("/suggest")
@login_required
def suggest() -> Any:
    """Up to five hits per kind, for the list under the header box."""
    try:
        terms = parse(request.args.get("q", ""))
    except QueryError as error:
        return jsonify({"errors": {"q": [error_message(error)]}}), 400
    groups = search(terms, current_user, SUGGESTIONS, count_up_to=0)
    return jsonify({"query": terms.text,
                    "groups": [group_dict(g, False) for g in groups if g.hits]})


_TEL_DROP = re.compile(r"[^\d+]")


def tel_uri(phone: str) -> str:
    """``tel:`` URI of a number as typed: ``+7 (495) 123-45-67`` → ``tel:+74951234567``."""
    digits = _TEL_DROP.sub("", phone or "")
    digits = digits[:1] + digits[1:].replace("+", "")
    return f"tel:{digits}"


def init_search(app: Flask) -> None:
    """Register the pages and the ``tel_uri`` filter (search results and the cards use it)."""
    app.register_blueprint(bp)
    app.jinja_env.filters["tel_uri"] = tel_uri
