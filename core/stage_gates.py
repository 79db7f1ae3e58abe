"""Stage gates: plugins' named conditions for moving a deal into (or past) a stage.

Plugins declare gates (``register_stage_gates`` → :class:`conveyor.StageGate`); an admin switches
them on per stage (``stages.gates``, carried by the pipelines snapshot). :func:`check_move` is asked
by :func:`conveyor.move_deal` and :func:`conveyor.create_deal` before they change anything, and a
flush guard asks it for any deal whose stage was changed some other way through the ORM — so the
board, the card, the API, bulk actions and plugins all meet the same gates.

A gate of stage S applies to a move from ``old`` to ``new`` when ``new`` is S, or when the move goes
forward over S (``old`` before S, ``new`` after it, ``new`` not a lost stage): "70 % or beyond".
Backward moves and moves to a lost stage pass only the target's own gates.

Cheap when nothing applies: no gate declared is one attribute test; declared but not switched on
for the stages the move crosses is a walk over the pipeline's stages in memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .contrib import StageGate, StageMove
from .models import Deal

PASSED = "conveyor_stage_gates_passed"


@dataclass(frozen=True)
class Refusal:
    """One gate's refusal: which gate, at which stage, and why (a lazy string, or text)."""

    gate: str
    stage_id: int
    reason: Any

    @property
    def message(self) -> str:
        return str(self.reason)


class StageGateRefused(ValueError):
    """The move was refused by one or more stage gates; nothing was changed."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return " ".join(r.message for r in self.refusals)

    def as_json(self) -> dict[str, Any]:
        """The API's 409 body."""
        return {"code": "stage_gate", "message": self.message,
                "gates": [{"gate": r.gate, "stage_id": r.stage_id, "message": r.message}
                          for r in self.refusals]}


def declared_gates() -> dict[str, StageGate]:
    """The gates enabled plugins declared, by name (empty outside an app)."""
    if not has_app_context():
        return {}
    return current_app.extensions["conveyor"].stage_gates  # type: ignore[no-any-return]


def gated_stages(pipeline_id: int, old_id: int | None, new_id: int) -> list[Any]:
    """The stages (snapshot ``StageInfo``) whose gates a move from ``old_id`` to ``new_id`` meets,
    in pipeline order."""
    from .pipelines import current_pipelines

    pipeline = current_pipelines().get(pipeline_id)
    if pipeline is None:
        return []
    by_id = {s.id: s for s in pipeline.stages}
    new = by_id.get(new_id)
    if new is None:
        return []
    old = by_id.get(old_id) if old_id is not None else None
    start = old.position if old is not None else -1
    out = []
    for stage in pipeline.stages:
        if not stage.gates:
            continue
        if stage.id == new_id or (not new.is_lost and stage.is_open
                                  and start < stage.position < new.position
                                  and (old is None or stage.id != old.id)):
            out.append(stage)
    return out


def refusals(deal: Any, old_id: int | None, new_id: int, by: Any,
             stop_at_first: bool = False) -> list[Refusal]:
    """Ask every gate that applies to this move; the refusals, empty when the move may go."""
    gates = declared_gates()
    if not gates:
        return []
    from .pipelines import current_pipelines

    snapshot = current_pipelines()
    old = snapshot.stages.get(old_id) if old_id is not None else None
    new = snapshot.stages.get(new_id)
    found: list[Refusal] = []
    for stage in gated_stages(deal.pipeline_id, old_id, new_id):
        for name in stage.gates:
            gate = gates.get(name)
            if gate is None:  # its plugin is off: the gate is off with it
                continue
            reason = gate.check(StageMove(deal=deal, old=old, new=new, gated=stage, by=by))
            if reason:
                found.append(Refusal(name, stage.id, reason))
                if stop_at_first:
                    return found
    return found


def check_move(deal: Any, old_id: int | None, new_id: int, by: Any) -> None:
    """Raise :class:`StageGateRefused` unless every applicable gate lets the move through, and
    note the move as checked, so the flush guard doesn't ask again."""
    found = refusals(deal, old_id, new_id, by)
    if found:
        raise StageGateRefused(found)
    if declared_gates():
        from .extensions import db

        db.session.info.setdefault(PASSED, set()).add((id(deal), new_id))


def blocked_moves(deal: Any, by: Any) -> dict[int, list[Refusal]]:
    """For a deal card: each stage of the deal's pipeline a move to which would be refused now,
    with the reasons. Only stages whose move meets a gate are asked."""
    if not declared_gates():
        return {}
    from .pipelines import current_pipelines

    pipeline = current_pipelines().get(deal.pipeline_id)
    if pipeline is None or not any(s.gates for s in pipeline.stages):
        return {}
    out: dict[int, list[Refusal]] = {}
    cache: dict[tuple[int, str], Any] = {}
    old = current_pipelines().stages.get(deal.stage_id)
    for target in pipeline.stages:
        if target.id == deal.stage_id:
            continue
        found = []
        for stage in gated_stages(deal.pipeline_id, deal.stage_id, target.id):
            for name in stage.gates:
                gate = declared_gates().get(name)
                if gate is None:
                    continue
                key = (stage.id, name)
                if key not in cache:
                    cache[key] = gate.check(StageMove(deal=deal, old=old, new=target,
                                                      gated=stage, by=by))
                if cache[key]:
                    found.append(Refusal(name, stage.id, cache[key]))
        if found:
            out[target.id] = found
    return out


def collect(app: Any, state: Any, hook: Any) -> None:
    """Gather the declared gates at start-up; a name declared twice stops it."""
    from .plugin_loading import PluginError

    for group in hook.register_stage_gates(app=app):
        for gate in group or ():
            if gate.name in state.stage_gates:
                raise PluginError(f"stage gate {gate.name!r} is declared twice")
            state.stage_gates[gate.name] = gate


@event.listens_for(Session, "before_flush")
def _guard(session: Session, flush_context: Any, instances: Any) -> None:
    """A deal whose stage changed without :func:`check_move` (a plugin setting ``stage_id``
    itself) meets the gates here: a refusal fails the flush, so nothing is written."""
    if not declared_gates():
        return
    passed = session.info.get(PASSED, set())
    for obj in list(session.dirty):
        if not isinstance(obj, Deal):
            continue
        state = inspect(obj)
        by_id, by_stage = state.attrs.stage_id.history, state.attrs.stage.history
        if by_stage.added and by_stage.added[0] is not None:  # ``deal.stage = …``
            new_id = by_stage.added[0].id
            old_id = by_stage.deleted[0].id if by_stage.deleted and by_stage.deleted[0] \
                else (by_id.unchanged or by_id.deleted or [None])[0]
        elif by_id.added:
            new_id, old_id = obj.stage_id, (by_id.deleted or [None])[0]
        else:
            continue
        if old_id == new_id or (id(obj), new_id) in passed:
            continue
        found = refusals(obj, old_id, new_id, None)
        if found:
            raise StageGateRefused(found)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(PASSED, None)
