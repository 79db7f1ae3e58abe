"""What every page and endpoint reads from its query string: period, scope, pipeline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .periods import Period, PeriodError, parse_period
from .scopes import FunnelScope, ScopeDenied, ScopeNotFound, resolve_scope
from .sqlparts import PipelineInfo, load_pipeline

MAX_ID = 2147483647


class BadQuery(ValueError):
    """A malformed argument: 400 with this message."""


@dataclass
class Query:
    pipe: PipelineInfo
    period: Period
    scope: FunnelScope

    @property
    def owners(self) -> list[int] | None:
        return self.scope.owner_list

    def args(self, **extra: Any) -> dict[str, Any]:
        """Query arguments that reproduce this selection (for links and CSV exports)."""
        out: dict[str, Any] = dict(self.scope.args)
        out["from"] = self.period.start.isoformat()
        out["to"] = self.period.last_day.isoformat()
        out["pipeline"] = self.pipe.id
        out.update({k: v for k, v in extra.items() if v is not None})
        return out


def parse_query(user: Any, args: Any) -> Query:
    """Raises BadQuery (400), ScopeDenied (403) or ScopeNotFound / LookupError (404)."""
    try:
        period = parse_period(args.get("from"), args.get("to"))
    except PeriodError as exc:
        raise BadQuery(str(exc)) from None
    raw = str(args.get("pipeline") or "").strip()
    pipeline_id = None
    if raw:
        if not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
            raise BadQuery("'pipeline' must be a pipeline id")
        pipeline_id = int(raw)
    owner = args.get("owner")
    team = args.get("team")
    who = args.get("who")
    if who is not None and owner is None and team is None:  # the pages' single selector
        who = str(who)
        if who.startswith("team:"):
            team = who[5:]
        elif who:
            owner = who
    scope = resolve_scope(user, str(owner) if owner is not None else None,
                          str(team) if team is not None else None)
    return Query(load_pipeline(pipeline_id), period, scope)


__all__ = ["BadQuery", "Query", "ScopeDenied", "ScopeNotFound", "parse_query"]
