"""/api/v1/funnel: the same numbers as the pages, for other systems. Amounts are strings."""
from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

from flask import current_app
from flask.json.provider import DefaultJSONProvider
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import or_, select

from conveyor import company_currency, csrf, db, require

from . import dwell as dwell_mod
from . import scopes
from .context import BadQuery, Query, parse_query
from .five import five_numbers
from .metrics import conversion_from, funnel, outcomes, reached_counts
from .models import FunnelTarget
from .periods import Period
from .plan import fulfilment_source, plan, plan_subjects
from .schemas import (
    FunnelConversionSchema,
    FunnelDwellSchema,
    FunnelFiguresSchema,
    FunnelFiveSchema,
    FunnelPlanSchema,
    FunnelScopeArgs,
    FunnelStalledSchema,
    FunnelTargetInSchema,
    FunnelTargetSchema,
    FunnelTargetUpdateSchema,
)
from .scopes import ScopeDenied, ScopeNotFound
from .targets import TargetError, delete_target, set_team_target, set_user_target

blp = Blueprint("funnel_api", __name__, url_prefix="/api/v1/funnel",
                description="Funnel analytics and sales targets. A seller reads their own "
                            "numbers, a manager the team's and everyone's, an admin all.")
csrf.exempt(blp)
TAGS = ["funnel"]
ID = "<int(max=2147483647):target_id>"


def api_query(args: dict[str, Any]) -> Query:
    raw = {"from": args.get("start"), "to": args.get("end"), "owner": args.get("owner"),
           "team": args.get("team"), "pipeline": args.get("pipeline")}
    try:
        return parse_query(current_user, {k: v for k, v in raw.items() if v is not None})
    except BadQuery as exc:
        abort(400, message=str(exc))
    except ScopeDenied:
        abort(403, message="You may not read these numbers.")
    except (ScopeNotFound, LookupError) as exc:
        abort(404, message=f"Not found: {exc}")


def _period(p: Period) -> dict[str, Any]:
    return {"start": p.start, "end": p.last_day, "kind": p.kind}


def _scope(q: Query) -> dict[str, Any]:
    return {"kind": q.scope.kind, "label": str(q.scope.label), "owner_ids": q.scope.owner_list}


def _step(step: Any) -> dict[str, Any] | None:
    if step is None:
        return None
    return {"from_stage_id": step.source.id, "to_stage_id": step.target.id,
            "entered": step.entered, "passed": step.passed, "dropped": step.dropped,
            "rate": step.rate}


def _kind(stage: Any) -> str:
    return "won" if stage.is_won else "lost" if stage.is_lost else "open"


@blp.route("", tags=TAGS)
class Funnel(MethodView):
    @require("funnel.view")
    @blp.arguments(FunnelScopeArgs, location="query")
    @blp.response(200, FunnelFiguresSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The funnel: per stage, open deals now and deals that reached it in the period"""
        q = api_query(args)
        result = funnel(q.pipe, q.period, q.owners)
        stages = [{"stage_id": r.stage.id, "name": r.stage.name, "percent": r.stage.percent,
                   "kind": _kind(r.stage), "count": r.count, "amount": r.amount,
                   "weighted_amount": r.weighted_amount,
                   "missing_currencies": list(r.total.missing),
                   "reached": None if r.stage.is_lost else r.reached}
                  for r in sorted(result.rows + result.lost, key=lambda r: r.stage.position)]
        problems = [{"from_stage_id": a.id, "to_stage_id": b.id, "from_count": n, "to_count": m}
                    for a, b, n, m in result.problems]
        return {"pipeline_id": q.pipe.id, "period": _period(q.period), "scope": _scope(q),
                "currency": company_currency(), "stages": stages,
                "not_funnel_shaped": problems}


@blp.route("/conversion", tags=TAGS)
class Conversion(MethodView):
    @require("funnel.view")
    @blp.arguments(FunnelScopeArgs, location="query")
    @blp.response(200, FunnelConversionSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Conversion between stages and first stage → won; win rate, cycle, lost reasons"""
        q = api_query(args)
        conv = conversion_from(q.pipe, reached_counts(q.pipe, q.period, q.owners))
        out = outcomes(q.pipe, q.period, q.owners)
        return {"period": _period(q.period), "steps": [_step(s) for s in conv.steps],
                "overall": _step(conv.overall), "worst_step": _step(conv.worst),
                "won": out.won, "lost": out.lost, "win_rate": out.win_rate,
                "currency": company_currency(), "won_amount": out.won_amount,
                "lost_amount": out.lost_amount,
                "missing_currencies": sorted(set(out.won_total.missing)
                                             | set(out.lost_total.missing)),
                "cycle_median_days": out.cycle_median_days,
                "cycle_mean_days": out.cycle_mean_days,
                "lost_reasons": [{"reason": r, "count": n, "amount": str(a.amount),
                                  "missing_currencies": list(a.missing)}
                                 for r, n, a in out.lost_reasons]}


@blp.route("/dwell", tags=TAGS)
class Dwell(MethodView):
    @require("funnel.view")
    @blp.arguments(FunnelScopeArgs, location="query")
    @blp.response(200, FunnelDwellSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Time in stage: median, 90th percentile and mean of completed stays, in days"""
        q = api_query(args)
        limits = dwell_mod.thresholds(q.pipe)
        rows = [{"stage_id": r.stage.id, "name": r.stage.name, "stays": r.stays,
                 "median_days": r.median_days, "p90_days": r.p90_days,
                 "mean_days": r.mean_days,
                 "stalled_after_days": limits[r.stage.id][0] / 86400
                 if r.stage.id in limits else None,
                 "threshold_source": limits[r.stage.id][1] if r.stage.id in limits else None}
                for r in dwell_mod.dwell(q.pipe, q.period, q.owners)]
        return {"period": _period(q.period), "stages": rows}


@blp.route("/stalled", tags=TAGS)
class Stalled(MethodView):
    @require("funnel.view")
    @blp.arguments(FunnelScopeArgs, location="query")
    @blp.response(200, FunnelStalledSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Open deals in their stage longer than its threshold (longest first, up to 500)"""
        q = api_query(args)
        body = stalled_json(dwell_mod.stalled_rows(q.pipe, q.owners, limit=500))
        provider = current_app.json
        if _writes_compact(provider):
            return current_app.response_class(f"{body}\n", mimetype=provider.mimetype)
        return json.loads(body)  # the provider's own layout (indented in debug), same values


def stalled_json(found: dwell_mod.StalledRows) -> str:
    """The /stalled answer as Flask's JSON provider writes it compact (keys sorted, ASCII
    only: ``{"deals": [{"amount": "…", …, "title": "…"}], "total": n}``), one row at a time:
    for the 500 listed deals the dicts, the schema's copy of them and ``json.dumps`` cost
    more than the statements. Strings go through the encoder's own escaping, numbers through
    ``repr`` as ``json`` writes them; the amount is digits, a sign and a point."""
    text = encode_basestring_ascii
    limit = {sid: repr(round(days, 2)) for sid, days in found.threshold_days.items()}
    rows = [f'{{"amount":"{amount}","currency":{text(currency)},"days":{round(days, 2)!r},'
            f'"deal_id":{deal_id!r},"owner":{text(owner)},'
            f'"owner_id":{"null" if owner_id is None else repr(owner_id)},'
            f'"stage_entered_at":"{entered.isoformat()}+00:00","stage_id":{stage_id!r},'
            f'"threshold_days":{limit[stage_id]},"title":{text(title)}}}'
            for (deal_id, title, owner_id, owner, stage_id, entered, days, amount, currency)
            in found.rows]
    return f'{{"deals":[{",".join(rows)}],"total":{found.total!r}}}'


def _writes_compact(provider: Any) -> bool:
    """Whether the app's JSON provider writes what :func:`stalled_json` writes: Flask's own
    ``dumps``/``response`` with sorted keys, ASCII only and compact separators (not debug)."""
    kind = type(provider)
    return (isinstance(provider, DefaultJSONProvider)
            and kind.dumps is DefaultJSONProvider.dumps
            and kind.response is DefaultJSONProvider.response
            and provider.sort_keys is True and provider.ensure_ascii is True
            and (provider.compact is True
                 or (provider.compact is None and not current_app.debug)))


def _figures(f: Any) -> dict[str, Any]:
    if f is None:
        return {}
    return {k: (str(v) if isinstance(v, Decimal) else list(v) if isinstance(v, tuple) else v)
            for k, v in vars(f).items()}


@blp.route("/five-numbers", tags=TAGS)
class FiveNumbers(MethodView):
    @require("funnel.view")
    @blp.arguments(FunnelScopeArgs, location="query")
    @blp.response(200, FunnelFiveSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Closed, committed, opportunities, leads, visits per seller, with the previous period"""
        q = api_query(args)
        r = five_numbers(q.pipe, q.period, q.owners)
        sellers = [{"owner_id": o, "current": _figures(r.current.get(o)),
                    "previous": _figures(r.before.get(o))} for o in r.owner_ids]
        return {"period": _period(r.period), "previous": _period(r.previous),
                "currency": company_currency(), "leads_available": r.leads_available, "visits_available": r.visits_available,
                "sellers": sellers, "total": {"current": _figures(r.total("current")),
                                              "previous": _figures(r.total("before"))}}


def _plan_row(row: Any) -> dict[str, Any]:
    t = row.target
    return {"kind": row.kind, "id": row.id, "label": row.label, "currency": row.currency,
            "target_volume": str(t.volume) if t else None,
            "target_margin": str(t.margin) if t else None,
            "target_derived": t.derived if t else None,
            "signed_volume": str(row.signed_volume), "signed_margin": str(row.signed_margin),
            "fulfilment_percent": row.percent("volume"), "forecast": str(row.forecast),
            "potential": str(row.potential), "missing_currencies": list(row.missing)}


def _shares(data: dict[str, Any]) -> dict[int, tuple[Decimal, Decimal]] | None:
    if data.get("shares") is None:
        return None
    out: dict[int, tuple[Decimal, Decimal]] = {}
    for s in data["shares"]:
        if s["user_id"] in out:
            abort(422, errors={"json": {"shares": ["A seller appears twice."]}})
        out[s["user_id"]] = (s["volume"], s["margin"])
    return out


def _save(data: dict[str, Any], team_id: int | None, user_id: int | None) -> FunnelTarget:
    currency = (data.get("currency") or current_app.config["CONVEYOR"]["default_currency"])
    try:
        if team_id is not None:
            if team_id not in {t.id for t in scopes.manageable_teams(current_user)}:
                abort(403, message="You may not set this team's targets.")
            row = set_team_target(team_id, data["period_kind"], data["period_start"],
                                  data["volume"], data["margin"], currency, current_user,
                                  shares=_shares(data))
        else:
            if user_id not in {u.id for u in scopes.manageable_users(current_user)}:
                abort(403, message="You may not set this person's targets.")
            row = set_user_target(user_id, data["period_kind"], data["period_start"],  # type: ignore[arg-type]
                                  data["volume"], data["margin"], currency, current_user)
    except TargetError as exc:
        db.session.rollback()
        abort(422, errors={"json": {exc.field or "_schema": [str(exc)]}})
    db.session.commit()
    return row


@blp.route("/targets", tags=TAGS)
class Targets(MethodView):
    @require("funnel.view")
    @blp.arguments(FunnelScopeArgs, location="query")
    @blp.response(200, FunnelPlanSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Plan fulfilment (target, signed, forecast, potential) and the targets set"""
        q = api_query(args)
        user_ids, team_ids = plan_subjects(q.scope)
        rows = plan(q.period, user_ids, team_ids)
        people = [r.id for r in rows if r.kind == "user"]
        teams = [r.id for r in rows if r.kind == "team"]
        explicit = list(db.session.scalars(select(FunnelTarget).where(
            or_(FunnelTarget.user_id.in_(people or [0]), FunnelTarget.team_id.in_(teams or [0])),
            FunnelTarget.period_start >= q.period.start, FunnelTarget.period_start < q.period.end)
            .order_by(FunnelTarget.id)))
        return {"period": _period(q.period), "fulfilment_source": fulfilment_source(),
                "rows": [_plan_row(r) for r in rows], "targets": explicit}

    @require("funnel.targets")
    @blp.arguments(FunnelTargetInSchema)
    @blp.response(201, FunnelTargetSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Set (create or replace) a seller's or a team's target for a month, quarter or year"""
        return _save(data, data.get("team_id"), data.get("user_id"))


@blp.route(f"/targets/{ID}", tags=TAGS)
class TargetItem(MethodView):
    def _row(self, target_id: int) -> FunnelTarget:
        row = db.session.get(FunnelTarget, target_id)
        allowed = ({u.id for u in scopes.manageable_users(current_user)},
                   {t.id for t in scopes.manageable_teams(current_user)})
        if row is None or not (row.user_id in allowed[0] or row.team_id in allowed[1]):
            abort(404, message="No such target.")
        return row

    @require("funnel.targets")
    @blp.arguments(FunnelTargetUpdateSchema)
    @blp.response(200, FunnelTargetSchema)
    def put(self, data: dict[str, Any], target_id: int) -> Any:
        """Change a target's amounts (and a team target's split)"""
        row = self._row(target_id)
        if row.user_id is not None and data.get("shares") is not None:
            abort(422, errors={"json": {"shares": ["Only a team target has shares."]}})
        full = {**data, "period_kind": row.period_kind, "period_start": row.period_start,
                "currency": data.get("currency") or row.currency}
        return _save(full, row.team_id, row.user_id)

    @require("funnel.targets")
    @blp.response(204)
    def delete(self, target_id: int) -> Any:
        """Delete a target (a team target with its shares)"""
        row = self._row(target_id)
        try:
            delete_target(row)
        except TargetError as exc:
            db.session.rollback()
            abort(409, message=str(exc))
        db.session.commit()
        return None
