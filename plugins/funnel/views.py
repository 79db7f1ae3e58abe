"""Funnel pages: the funnel with conversion and outcomes, time in stage with stalled deals,
the five numbers, and the deals behind any figure. Each table downloads as CSV (?format=csv)."""
from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_interval, format_skeleton
from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from conveyor import company_currency, db, require, scope, setting
from conveyor.i18n import _, pgettext
from conveyor.models import Deal, User
from conveyor.queries import written_limit

from . import dwell as dwell_mod
from .context import BadQuery, Query, parse_query
from .csvexport import csv_response
from .five import five_numbers, five_trend
from .metrics import conversion_from, funnel, outcomes
from .periods import Period, presets
from .scopes import ScopeDenied, ScopeNotFound, scope_choices, who_of
from .sqlparts import H, pipelines

bp = Blueprint("funnel", __name__, url_prefix="/funnel", template_folder="templates")
PAGE = 50
CSV_LIMIT = 100_000


def query_or_abort() -> Query:
    """The page's selection; bad input is a 4xx with a message, never a 500."""
    try:
        return parse_query(current_user, request.args)
    except BadQuery as exc:
        abort(400, description=str(exc))
    except ScopeDenied:
        abort(403, description=_("You may not see these numbers."))
    except (ScopeNotFound, LookupError):
        abort(404)


def shell(q: Query, **extra: Any) -> dict[str, Any]:
    """What the filter bar and tabs of every page need."""
    return {"q": q, "presets": presets(), "scopes": scope_choices(current_user),
            "pipelines": pipelines(), "who_of": who_of, "company_currency": company_currency(),
            **extra}


def month_label(month: date) -> str:
    """"Dec 2026", "дек. 2026 г.", "2026年12月": a month in the page's language (Babel)."""
    return format_skeleton("yMMM", month, locale=str(get_locale() or "en"))


def period_label(period: Period) -> str:
    """A period as a person names it, in the page's language: a month, a quarter, a year, or
    its first and last day."""
    locale = str(get_locale() or "en")
    skeleton = {"month": "yMMM", "quarter": "yQQQ", "year": "y"}.get(period.kind)
    if skeleton:
        return format_skeleton(skeleton, period.start, locale=locale)
    return format_interval(period.start, period.last_day, "yMMMd", locale=locale)


def wants_csv() -> bool:
    return request.args.get("format") == "csv"


@bp.get("/")
@require("funnel.view")
def index() -> Any:
    q = query_or_abort()
    result = funnel(q.pipe, q.period, q.owners)
    conv = conversion_from(q.pipe, {r.stage.id: r.reached for r in result.rows})
    out = outcomes(q.pipe, q.period, q.owners)
    if wants_csv():
        table = request.args.get("table", "funnel")
        if table == "conversion":
            return csv_response("funnel-conversion", [
                _("From stage"), _("To stage"), _("Reached the first"), _("Reached the next"),
                _("Conversion"), _("Lost at this step")],
                [(_(s.source.name), _(s.target.name), s.entered, s.passed, s.rate, s.dropped)
                 for s in conv.steps + ([conv.overall] if conv.overall else [])])
        home = company_currency()
        if table == "lost_reasons":
            return csv_response("funnel-lost-reasons", [
                _("Reason"), _("Deals"), _("Amount"), _("Currency"), _("No exchange rate for")],
                [(r or _("(not given)"), n, a.amount, home, " ".join(a.missing))
                 for r, n, a in out.lost_reasons])
        return csv_response("funnel", [
            _("Stage"), _("Percent"), _("Deals"), _("Amount"), _("Weighted amount"),
            _("Currency"), _("No exchange rate for"), _("Reached in the period")],
            [(_(r.stage.name), r.stage.percent, r.count, r.amount, r.weighted_amount, home,
              " ".join(r.total.missing), r.reached if not r.stage.is_lost else "")
             for r in result.rows + result.lost])
    flagged = {b.id for _a, b, _n, _m in result.problems}
    return render_template("funnel/index.html", **shell(q, tab="funnel", result=result,
                           conv=conv, out=out, flagged=flagged,
                           month_labels=[month_label(m.month) for m in out.months]))


@bp.get("/dwell")
@require("funnel.view")
def dwell() -> Any:
    q = query_or_abort()
    rows = dwell_mod.dwell(q.pipe, q.period, q.owners)
    limits = dwell_mod.thresholds(q.pipe)
    csv_table = request.args.get("table", "dwell")
    stalled, total = dwell_mod.stalled(q.pipe, q.owners,
                                       limit=CSV_LIMIT if wants_csv() else 200)
    if wants_csv():
        if csv_table == "stalled":
            return csv_response("funnel-stalled", [
                _("Deal"), _("Owner"), _("Stage"), _("Days in stage"), _("Threshold (days)"),
                _("Amount"), _("Currency")],
                [(s.title, s.owner, _(s.stage.name), round(s.days, 1),
                  round(s.threshold_days, 1), s.amount, s.currency) for s in stalled])
        return csv_response("funnel-time-in-stage", [
            _("Stage"), _("Completed stays"), _("Median (days)"), _("90th percentile (days)"),
            _("Mean (days)"), _("Stalled after (days)")],
            [(_(r.stage.name), r.stays, r.median_days, r.p90_days, r.mean_days,
              limits[r.stage.id][0] / 86400 if r.stage.id in limits else None) for r in rows])
    return render_template("funnel/dwell.html", **shell(q, tab="dwell", rows=rows, limits=limits,
                           stalled=stalled, total=total))


@bp.get("/five")
@require("funnel.view")
def five() -> Any:
    q = query_or_abort()
    result = five_numbers(q.pipe, q.period, q.owners)
    ids = [o for o in result.owner_ids if o is not None]
    names = {u.id: u.label for u in db.session.scalars(select(User).where(User.id.in_(ids or [0])))}
    lines = [(names.get(o, _("Unassigned")) if o else _("Unassigned"),
              result.current.get(o), result.before.get(o)) for o in result.owner_ids]
    lines.append((_("Total"), result.total("current"), result.total("before")))
    if wants_csv():
        header = [_("Seller"), pgettext("funnel column", "Closed"), _("Closed before"),
                  _("Committed"),
                  _("Committed before"), _("Opportunities"), _("Opportunities before")]
        if result.leads_available:
            header += [_("Leads"), _("Leads before")]
        if result.visits_available:
            header += [_("First visits"), _("First visits before"), _("Follow-up visits"),
                       _("Follow-up visits before")]
        rows = []
        for label, cur, prev in lines:
            row = [label]
            names_ = ["closed", "committed", "opportunities"]
            names_ += ["leads"] if result.leads_available else []
            names_ += ["visits_first", "visits_follow_up"] if result.visits_available else []
            for n in names_:
                row += [getattr(cur, n, 0) if cur else 0, getattr(prev, n, 0) if prev else 0]
            rows.append(row)
        return csv_response("funnel-five-numbers", header, rows)
    trend = five_trend(q.pipe, q.period, q.owners)
    return render_template("funnel/five.html", **shell(q, tab="five", result=result, lines=lines,
                           committed_percent=setting("funnel.committed_percent"),
                           trend=trend, trend_labels=[period_label(p) for p, _f in trend]))


@bp.get("/deals")
@require("funnel.view")
def deals() -> Any:
    """The deals behind a figure: in a stage now (``kind=now``) or that reached it in the
    period (``kind=reached``), within the funnel's scope and the viewer's record rules."""
    q = query_or_abort()
    raw = request.args.get("stage", "")
    stage = q.pipe.stage(int(raw)) if raw.isdigit() and len(raw) <= 10 else None
    if stage is None:
        abort(404)
    kind = "reached" if request.args.get("kind") == "reached" and not stage.is_lost else "now"
    query = (select(Deal).options(selectinload(Deal.owner), selectinload(Deal.stage))
             .where(Deal.pipeline_id == q.pipe.id, scope(Deal, current_user)))
    if q.owners is not None:
        query = query.where(Deal.owner_id.in_(q.owners))
    if kind == "now":
        query = query.where(Deal.stage_id == stage.id)
        if not stage.is_open:
            query = query.where(Deal.closed_at >= q.period.start_dt,
                                Deal.closed_at < q.period.end_dt)
    else:
        later = [s.id for s in q.pipe.funnel_stages if s.position >= stage.position]
        query = query.where(Deal.id.in_(select(H.c.deal_id).where(
            H.c.to_stage_id.in_(later), H.c.at >= q.period.start_dt, H.c.at < q.period.end_dt)))
    if wants_csv():
        rows = db.session.scalars(query.order_by(Deal.id.desc()).limit(written_limit(CSV_LIMIT)))
        return csv_response("funnel-deals", [
            _("Deal"), _("Owner"), _("Stage"), _("Amount"), _("Currency"), _("In stage since")],
            [(d.title, d.owner.label if d.owner else "", _(d.stage.name), d.amount, d.currency,
              d.stage_entered_at.isoformat()) for d in rows])
    before = request.args.get("before", "")
    if before.isdigit() and len(before) <= 10:
        query = query.where(Deal.id < int(before))
    items = list(db.session.scalars(query.order_by(Deal.id.desc()).limit(written_limit(PAGE + 1))))
    more = len(items) > PAGE
    items = items[:PAGE]
    return render_template("funnel/deals.html", **shell(
        q, tab="funnel", stage=stage, kind=kind, items=items,
        next_before=items[-1].id if more and items else None))


from . import views_targets  # noqa: E402,F401  (target pages live on the same blueprint)

__all__ = ["bp"]
