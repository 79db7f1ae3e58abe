"""Discussable record types: how to load one under the user's record rules, who owns it,
where its card is and who else may see it (for mentions and notifications)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from conveyor import can, db, scope
from conveyor.models import TeamMember, User, UserRole
from conveyor.role_layers import SCOPES, current_roles

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
    # the column of the core's TimelineEntry holding this record's id (TimelineEntry.deal_id):
    # its entries are merged into the thread
    timeline: Any = None

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

    def plain_rule(self) -> bool:
        """True when who sees a record follows from roles and its owner alone: the plain
        owner rule, no loader or rule of its own, no plugin ``record_filters``."""
        return self.load is None and not getattr(self.model, "__record_rule__", None) \
            and hasattr(self.model, "owner_id") \
            and not current_app.extensions["conveyor"].pm.hook.record_filters.get_hookimpls()

    def who_may_see(self, record: Any, user_ids: list[int] | set[int],
                    roles: dict[int, list[str]] | None = None) -> set[int]:
        """Which of ``user_ids`` (active users) may see ``record``.

        Under :meth:`plain_rule` the role's own/team/all rule is decided from the users' roles
        (config) and the owner's teammates: two statements for any number of users, or one
        when the caller read the active users' ``roles`` already. Otherwise each user is asked
        through the same SQL as their own pages.
        """
        if not user_ids:
            return set()
        if not self.plain_rule():
            return self._asked_one_by_one(record, user_ids)
        if roles is not None:
            roles_by_user = {uid: roles[uid] for uid in user_ids if uid in roles}
        else:
            roles_by_user = {}
            for uid, role in db.session.execute(
                    select(UserRole.user_id, UserRole.role).join(User, User.id == UserRole.user_id)
                    .where(UserRole.user_id.in_(list(user_ids)), User.active.is_(True))):
                roles_by_user.setdefault(uid, []).append(role)
        owner = self.owner_of(record)
        teammates: set[int] | None = None
        seen: set[int] = set()
        for uid, names in roles_by_user.items():
            granted, kind = self._grant(frozenset(names))
            if not granted:
                continue
            if kind == "all" or (owner is not None and owner == uid):
                seen.add(uid)
            elif kind == "team" and owner is not None:
                if teammates is None:
                    teammates = _teammates(owner)
                if uid in teammates:
                    seen.add(uid)
        return seen

    def _grant(self, names: frozenset[str]) -> tuple[bool, str]:
        """Whether roles ``names`` hold the permission, and their widest record scope (the
        same reading as ``conveyor.can`` and ``conveyor.scope_of``)."""
        roles = current_roles()
        held = [roles[n] for n in names if n in roles]
        granted = any(self.permission in r.permissions for r in held)
        widest = max((SCOPES.index(r.scope) for r in held), default=0)
        return granted, SCOPES[widest]

    def _asked_one_by_one(self, record: Any, user_ids: list[int] | set[int]) -> set[int]:
        users = db.session.scalars(select(User).where(
            User.id.in_(list(user_ids)), User.active.is_(True))
            .options(selectinload(User.role_grants)))
        return {u.id for u in users if can(u, self.permission) and self._exists_for(record, u)}

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
