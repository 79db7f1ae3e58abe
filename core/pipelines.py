"""The pipelines and their stages, as a read-only snapshot kept per process.

Nearly every deals page needs the stages (labels, board columns, filters, next steps), and
they change only when an admin edits them. The snapshot is rebuilt when the database's
"pipelines" change stamp (conveyor.change_stamps) differs from the one it was built under.
The stamp is renewed in the same transaction as any flush that adds, changes or removes a
Pipeline or a Stage. Code that changes stages without the ORM (raw SQL) must call
:func:`touch` in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from . import change_stamps
from .extensions import db
from .models import Pipeline, Stage

STAMP = "pipelines"


@dataclass(frozen=True)
class StageInfo:
    """A stage as the snapshot holds it: plain values, safe to keep between requests."""

    id: int
    pipeline_id: int
    name: str
    percent: int
    position: int
    is_won: bool
    is_lost: bool
    gates: tuple[str, ...] = ()  # stage gates an admin switched on (see conveyor.stage_gates)

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost

    @property
    def is_open(self) -> bool:
        return not self.is_closed


@dataclass(frozen=True)
class PipelineInfo:
    """A pipeline and its stages in order, from the snapshot."""

    id: int
    name: str
    is_default: bool
    stages: tuple[StageInfo, ...]


@dataclass(frozen=True)
class Pipelines:
    """Every pipeline (by id) with its stages in order."""

    pipelines: tuple[PipelineInfo, ...]
    stages: dict[int, StageInfo] = field(default_factory=dict)

    def get(self, pipeline_id: int | None = None) -> PipelineInfo | None:
        """The pipeline asked for; without an id the default one (else the first)."""
        if pipeline_id is None:
            return next((p for p in self.pipelines if p.is_default),
                        self.pipelines[0] if self.pipelines else None)
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    def all_stages(self) -> list[StageInfo]:
        """Every stage, pipeline by pipeline, in pipeline order."""
        return [s for p in self.pipelines for s in p.stages]


def current_pipelines() -> Pipelines:
    """The snapshot, rebuilt only when the change stamp moved; looked up once a request (the
    API asks it for each of the 50 deals it lists). Treat it as read-only."""
    in_request = has_request_context()
    if in_request:
        now = g.get("conveyor_pipelines_now")
        if now is not None:
            return now  # type: ignore[no-any-return]
    stamp = change_stamps.current(STAMP)
    cached = current_app.extensions.get("conveyor_pipelines")
    if stamp is not None and cached is not None and cached[0] == stamp:
        snapshot = cached[1]
    else:
        snapshot = _load()
        if stamp is not None:  # no stamp row yet: nothing to compare with later, don't keep it
            current_app.extensions["conveyor_pipelines"] = (stamp, snapshot)
    if in_request:
        g.conveyor_pipelines_now = snapshot
    return snapshot


def touch(session: Session) -> None:
    """Renew the stamp (in the session's transaction): every process rebuilds its snapshot,
    this request on its next look."""
    change_stamps.touch(session, STAMP)
    if has_request_context():
        g.pop("conveyor_pipelines_now", None)


def _load() -> Pipelines:
    rows = db.session.execute(
        select(Pipeline.id, Pipeline.name, Pipeline.is_default, Stage.id, Stage.name,
               Stage.percent, Stage.position, Stage.is_won, Stage.is_lost, Stage.gates)
        .outerjoin(Stage, Stage.pipeline_id == Pipeline.id)
        .order_by(Pipeline.id, Stage.position, Stage.id)).all()
    order: dict[int, tuple[str, bool, list[StageInfo]]] = {}
    for pid, pname, default, sid, sname, percent, position, won, lost, gates in rows:
        entry = order.setdefault(pid, (pname, bool(default), []))
        if sid is not None:
            entry[2].append(StageInfo(sid, pid, sname, percent, position, bool(won), bool(lost),
                                      tuple(gates or ())))
    infos = tuple(PipelineInfo(pid, name, default, tuple(stages))
                  for pid, (name, default, stages) in order.items())
    return Pipelines(infos, {s.id: s for p in infos for s in p.stages})


@event.listens_for(Session, "after_flush")
def _renew_stamp(session: Session, flush_context: Any) -> None:
    """A flush that touched a pipeline or a stage renews the stamp in its own transaction."""
    changed = (*session.new, *session.deleted,
               *(obj for obj in session.dirty if session.is_modified(obj)))
    if any(isinstance(obj, (Pipeline, Stage)) for obj in changed):
        touch(session)
