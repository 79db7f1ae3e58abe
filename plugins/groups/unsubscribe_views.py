"""The unsubscribe list: addresses every export and push leaves out."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from conveyor import can, db, require
from conveyor.i18n import _
from conveyor.queries import written_limit

from .forms import UnsubscribeForm
from .models import Unsubscribe
from .services import GroupError, unsubscribe
from .views import PAGE, before_arg, bp


def _page() -> tuple[list[Unsubscribe], int | None, str]:
    query = select(Unsubscribe)
    q = request.args.get("q", "").strip()[:100]
    if q:
        query = query.where(or_(Unsubscribe.email.ilike(f"%{q}%"),
                                Unsubscribe.phone.ilike(f"%{q}%")))
    before = before_arg()
    if before is not None:
        query = query.where(Unsubscribe.id < before)
    rows = list(db.session.scalars(query.order_by(Unsubscribe.id.desc())
                                   .limit(written_limit(PAGE + 1))))
    return rows[:PAGE], rows[PAGE - 1].id if len(rows) > PAGE else None, q


def _render(form: UnsubscribeForm, status: int = 200) -> Any:
    rows, next_before, q = _page()
    return render_template("groups/unsubscribes.html", form=form, rows=rows,
                           next_before=next_before, q=q,
                           can_edit=can(current_user, "groups.edit")), status


@bp.get("/unsubscribes")
@require("groups.view")
def unsubscribes() -> Any:
    return _render(UnsubscribeForm())


@bp.post("/unsubscribes")
@require("groups.edit")
def unsubscribe_add() -> Any:
    form = UnsubscribeForm()
    if form.validate_on_submit():
        try:
            added = unsubscribe(form.email.data, form.phone.data, form.reason.data or "",
                                by=current_user._get_current_object())
            db.session.commit()
        except GroupError as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(exc.message)
        else:
            flash(_("Marked as unsubscribed.") if added else _("Already unsubscribed."),
                  "success")
            return redirect(url_for(".unsubscribes"))
    return _render(form, 400)


@bp.post("/unsubscribes/<int(max=2147483647):row_id>/delete")
@require("groups.edit")
def unsubscribe_delete(row_id: int) -> Any:
    row = db.session.get(Unsubscribe, row_id)
    if row is None:
        abort(404)
    db.session.delete(row)
    db.session.commit()
    flash(_("The address may be mailed again."), "success")
    return redirect(url_for(".unsubscribes"))
