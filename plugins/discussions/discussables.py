"""Discussable record types: how to load one under the user's record rules, who owns it,
where its card is and who else may see it (for mentions and notifications)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from conveyor import can, db, scope, scope_of
from conveyor.models import TeamMember, User
from conveyor.permissions import plugin_filters

STATE_KEY = "discussions"


@dataclass(frozen=True)
class Discussable:
    """One kind of record that carries threads (see the ``discussions_discussables`` hook)."""

    name: str  # "deals": the API path segment and the thread's resource
    model: type  # a SQLAlchemy model whose rows have an integer ``id``
    permission: str  # needed to see a record at all ("deals.view")
    label: Callable[[Any], str]
    url: Callable[[Any], str]
    target: str | None = None  # the core card whose panels show the thread ("deal")
    load: Callable[[int, Any], Any] | None = None
    owner_id: Callable[[Any], int | None] | None = None
    # SQL criterion on the core's TimelineEntry for this record, merged into the thread
    timeline: Callable[[Any], Any] | None = None

    def load_visible(self, record_id: int, user: Any) -> Any:
        """The record if ``user`` may see it (role, record rules, plugins' filters), else None."""
        if not can(user, self.permission):
            return None
        if self.load is not None:
            return self.load(record_id, user)
        return db.session.scalar(select(self.model).where(
            self.model.id == record_id,  # type: ignore[attr-defined]
            scope(self.model, user, self.permission)))

    def owner_of(self, record: Any) -> int | None:
        return self.owner_id(record) if self.owner_id else getattr(record, "owner_id", None)

    def visible_ids(self, record_ids: list[int], user: Any) -> set[int]:
        """Which of ``record_ids`` the user may see: one statement (the inbox, per resource)."""
        if not record_ids or not can(user, self.permission):
            return set()
        if self.load is not None:
            return {i for i in record_ids if self.load(i, user) is not None}
        ident = self.model.id  # type: ignore[attr-defined]
        return set(db.session.scalars(select(ident).where(
            ident.in_(record_ids), scope(self.model, user, self.permission))))

    def who_may_see(self, record: Any, user_ids: list[int] | set[int]) -> set[int]:
        """Which of ``user_ids`` (active users) may see ``record``.

        The role's own/team/all rule on the owner is decided from the roles (config) and one
        statement for the owner's teammates; a model with its own rule, a custom loader or
        plugins' record filters is asked per user, through the same SQL as their pages.
        """
        if not user_ids:
            return set()
        users = list(db.session.scalars(select(User).where(
            User.id.in_(list(user_ids)), User.active.is_(True))
            .options(selectinload(User.role_grants))))
        owner = self.owner_of(record)
        simple = self.load is None and not getattr(self.model, "__record_rule__", None) \
            and hasattr(self.model, "owner_id")
        teammates: set[int] | None = None
        seen: set[int] = set()
        for user in users:
            if not can(user, self.permission):
                continue
            kind = scope_of(user)
            if not simple or plugin_filters(self.model, user, self.permission):
                if self._exists_for(record, user):
                    seen.add(user.id)
            elif kind == "all":
                seen.add(user.id)
            elif kind == "own":
                if owner is not None and owner == user.id:
                    seen.add(user.id)
            elif owner is not None:
                if teammates is None:
                    teammates = _teammates(owner)
                if user.id in teammates:
                    seen.add(user.id)
        return seen

    def _exists_for(self, record: Any, user: Any) -> bool:
        if self.load is not None:
            return self.load(record.id, user) is not None
        ident = self.model.id  # type: ignore[attr-defined]
        return bool(db.session.scalar(select(exists().where(
            ident == record.id, scope(self.model, user, self.permission)))))


def _teammates(owner_id: int) -> set[int]:
    """The owner and everyone sharing a team with them: whom a "team" scope lets see it."""
    teams = select(TeamMember.team_id).where(TeamMember.user_id == owner_id)
    return set(db.session.scalars(select(TeamMember.user_id).where(
        TeamMember.team_id.in_(teams)))) | {owner_id}


def discussables() -> dict[str, Discussable]:
    """Every registered discussable by name, collected once per app."""
    state = current_app.extensions.setdefault(STATE_KEY, {})
    if state.get("discussables") is None:
        found: dict[str, Discussable] = {}
        hook = current_app.extensions["conveyor"].hook
        for answer in hook.discussions_discussables():
            for item in answer or ():
                if item.name in found:
                    raise RuntimeError(f"discussable {item.name!r} registered twice")
                found[item.name] = item
        state["discussables"] = found
    return state["discussables"]


def discussable(name: str) -> Discussable | None:
    return discussables().get(name)


def for_target(target: str) -> Discussable | None:
    """The discussable shown on the core card ``target`` ("deal", "customer")."""
    return next((d for d in discussables().values() if d.target == target), None)
