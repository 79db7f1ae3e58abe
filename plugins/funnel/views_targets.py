"""Target pages: plan fulfilment for the selected scope, and the manager's target forms."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from conveyor import db, require
from conveyor.i18n import _, pgettext
from conveyor.models import Team, User
from conveyor.types import utcnow

from . import scopes
from .csvexport import csv_response
from .forms import TeamTargetForm, UserTargetForm, team_form
from .models import FunnelTarget
from .periods import period_of
from .plan import fulfilment_source, invoices_available, plan, plan_subjects
from .targets import TargetError, even_split, set_team_target, set_user_target, team_sellers
from .targets import delete_target as delete_target_row
from .views import bp, query_or_abort, shell, wants_csv

ID = "<int(max=2147483647):target_id>"


def manageable_users() -> list[User]:
    return scopes.manageable_users(current_user)


def manageable_teams() -> list[Team]:
    return scopes.manageable_teams(current_user)


@bp.get("/targets")
@require("funnel.view")
def targets() -> Any:
    q = query_or_abort()
    user_ids, team_ids = plan_subjects(q.scope)
    rows = plan(q.period, user_ids, team_ids)
    if wants_csv():
        return csv_response("funnel-plan", [
            _("Seller or team"), _("Target volume"), _("Signed volume"), _("Fulfilment %"),
            _("Target margin"), _("Signed margin"), _("Forecast"),
            pgettext("funnel column", "Potential"), _("Currency"), _("No exchange rate for")],
            [(r.label, _target(r, "volume"), r.signed_volume, r.percent("volume"),
              _target(r, "margin"), r.signed_margin, r.forecast, r.potential,
              r.currency, " ".join(r.missing)) for r in rows])
    people = {u for r in rows if r.kind == "user" for u in [r.id]}
    teams = {r.id for r in rows if r.kind == "team"}
    explicit = list(db.session.scalars(
        select(FunnelTarget).where(
            or_(FunnelTarget.user_id.in_(people or {0}), FunnelTarget.team_id.in_(teams or {0})),
            FunnelTarget.period_start >= q.period.start, FunnelTarget.period_start < q.period.end)
        .order_by(FunnelTarget.period_start, FunnelTarget.period_kind, FunnelTarget.team_id,
                  FunnelTarget.user_id)))
    labels = {r.id: r.label for r in rows if r.kind == "user"}
    team_labels = {r.id: r.label for r in rows if r.kind == "team"}
    return render_template("funnel/targets.html", **shell(
        q, tab="targets", rows=rows, explicit=explicit, labels=labels, team_labels=team_labels,
        source=fulfilment_source(), invoices=invoices_available()))


def _target(row: Any, what: str) -> Any:
    """A row's target in the company currency; empty when there is none or it has no rate."""
    if row.target is None or row.target.currency != row.currency:
        return ""
    return getattr(row.target, what)


def _prefill(form: Any) -> None:
    if request.method == "GET":
        form.period_kind.data = request.args.get("period_kind", "month")
        form.period_start.data = utcnow().date()
        raw = request.args.get("period_start", "")
        try:
            from datetime import date

            form.period_start.data = date.fromisoformat(raw) if raw else form.period_start.data
        except ValueError:
            pass
        form.currency.data = form.currency.data or _default_currency()


def _default_currency() -> str:
    from flask import current_app

    return current_app.config["CONVEYOR"]["default_currency"]


def _apply_error(form: Any, exc: TargetError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(exc)]
    else:
        form.form_errors.append(str(exc))


@bp.route("/targets/user", methods=["GET", "POST"])
@require("funnel.targets")
def user_target() -> Any:
    form = UserTargetForm()
    form.user_id.choices = [(u.id, u.label) for u in manageable_users()]
    _prefill(form)
    if request.method == "GET" and request.args.get("user_id", "").isdigit():
        form.user_id.data = int(request.args["user_id"][:10])
        existing = db.session.scalar(select(FunnelTarget).where(
            FunnelTarget.user_id == form.user_id.data,
            FunnelTarget.period_kind == form.period_kind.data,
            FunnelTarget.period_start == period_of(form.period_kind.data or "month",
                                                   form.period_start.data).start))
        if existing is not None:
            form.volume.data, form.margin.data = existing.volume, existing.margin
            form.currency.data = existing.currency
    if form.validate_on_submit():
        try:
            set_user_target(form.user_id.data, form.period_kind.data, form.period_start.data,
                            form.volume.data, form.margin.data, form.currency.data, current_user)
        except TargetError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(_("Target saved."), "success")
            return _back(form)
    status = 400 if request.method == "POST" else 200
    return render_template("funnel/target_form.html", form=form, kind="user"), status


@bp.route("/targets/team", methods=["GET", "POST"])
@require("funnel.targets")
def team_target() -> Any:
    teams = manageable_teams()
    raw = (request.form.get("team_id") or request.args.get("team_id") or "")[:10]
    team = next((t for t in teams if raw.isdigit() and t.id == int(raw)), None)
    if team is None:
        chooser = TeamTargetForm(formdata=None)
        chooser.team_id.choices = [(t.id, t.name) for t in teams]
        _prefill(chooser)
        status = 404 if raw else 200
        return render_template("funnel/target_form.html", form=chooser, kind="team_choose"), status
    sellers = team_sellers(team.id)
    form = team_form(sellers, request.form if request.method == "POST" else None)
    form.team_id.choices = [(team.id, team.name)]
    if request.method == "GET":
        form.team_id.data = team.id
        _prefill(form)
        start = period_of(form.period_kind.data or "month", form.period_start.data).start
        existing = db.session.scalar(select(FunnelTarget).where(
            FunnelTarget.team_id == team.id, FunnelTarget.period_kind == form.period_kind.data,
            FunnelTarget.period_start == start))
        if existing is not None:
            form.volume.data, form.margin.data = existing.volume, existing.margin
            form.currency.data = existing.currency
            for share in db.session.scalars(select(FunnelTarget).where(
                    FunnelTarget.parent_id == existing.id)):
                if hasattr(form, f"share_volume_{share.user_id}"):
                    getattr(form, f"share_volume_{share.user_id}").data = share.volume
                    getattr(form, f"share_margin_{share.user_id}").data = share.margin
    if request.method == "POST" and form.validate_on_submit():
        shares = _shares(form, sellers)
        if shares is not False:
            try:
                set_team_target(team.id, form.period_kind.data, form.period_start.data,
                                form.volume.data, form.margin.data, form.currency.data,
                                current_user, shares=shares)  # type: ignore[arg-type]
            except TargetError as exc:
                db.session.rollback()
                _apply_error(form, exc)
            else:
                db.session.commit()
                flash(_("Team target saved and split between its sellers."), "success")
                return _back(form)
    status = 400 if request.method == "POST" else 200
    split = even_split(form.volume.data, len(sellers)) if form.volume.data is not None else []
    return render_template("funnel/target_form.html", form=form, kind="team", team=team,
                           sellers=sellers, split=split), status


def _shares(form: Any, sellers: list[User]) -> Any:
    """All shares blank: None (even split). All given: the dict. Some: field errors, False."""
    values = {u.id: (getattr(form, f"share_volume_{u.id}").data,
                     getattr(form, f"share_margin_{u.id}").data) for u in sellers}
    if all(v is None and m is None for v, m in values.values()):
        return None
    ok = True
    for uid, (v, m) in values.items():
        for name, value in ((f"share_volume_{uid}", v), (f"share_margin_{uid}", m)):
            if value is None:
                getattr(form, name).errors = [_("Fill in every share, or none for an even split.")]
                ok = False
    return values if ok else False


def _back(form: Any) -> Any:
    start = period_of(form.period_kind.data, form.period_start.data)
    return redirect(url_for(".targets", **{"from": start.start.isoformat(),
                                            "to": start.last_day.isoformat()}))


@bp.post(f"/targets/{ID}/delete")
@require("funnel.targets")
def delete_target(target_id: int) -> Any:
    row = db.session.get(FunnelTarget, target_id)
    allowed_users = {u.id for u in manageable_users()}
    allowed_teams = {t.id for t in manageable_teams()}
    if row is None or not (row.user_id in allowed_users or row.team_id in allowed_teams):
        abort(404)
    try:
        delete_target_row(row)
    except TargetError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".targets")), 303
    db.session.commit()
    flash(_("Target deleted."), "success")
    return redirect(url_for(".targets"))
