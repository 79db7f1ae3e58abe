"""Whose numbers a user may see: one seller, a team, or everyone.

The funnel's own rule over the core's record scopes: ``funnel.view`` shows your own numbers,
``funnel.view_team`` those of the people in your teams, ``funnel.view_all`` everyone's. A request
for a scope beyond that is refused (403), never silently widened or narrowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from conveyor import can, db
from conveyor.i18n import _
from conveyor.models import Team, TeamMember, User

MAX_ID = 2147483647


class ScopeDenied(PermissionError):
    """The user asked for numbers they may not see (403)."""


class ScopeNotFound(LookupError):
    """The user or team asked for does not exist (404)."""


@dataclass(frozen=True)
class FunnelScope:
    kind: str  # "user" | "team" | "teams" (all of my teams) | "all"
    owner_ids: tuple[int, ...] | None  # None = every owner, unassigned deals included
    label: str = ""
    user_id: int | None = None
    team_id: int | None = None
    args: dict[str, str] = field(default_factory=dict)  # query arguments that select it again
    team_ids: tuple[int, ...] = ()  # the teams of a "team" / "teams" scope

    @property
    def who(self) -> str:
        """The value of the scope selector (``who``) that picks this scope."""
        return who_of(self.args)

    @property
    def owner_list(self) -> list[int] | None:
        return None if self.owner_ids is None else list(self.owner_ids)


def who_of(args: dict[str, str]) -> str:
    if "team" in args:
        return f"team:{args['team']}"
    return args.get("owner", "")


def _members(team_ids: list[int]) -> tuple[int, ...]:
    rows = db.session.scalars(select(TeamMember.user_id).where(TeamMember.team_id.in_(team_ids))
                              .distinct().order_by(TeamMember.user_id))
    return tuple(rows)


def _int(raw: str, name: str) -> int:
    if not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
        raise ScopeNotFound(name)
    return int(raw)


def _me(user: Any) -> FunnelScope:
    return FunnelScope("user", (user.id,), user.label, user_id=user.id, args={"owner": "me"})


def _all() -> FunnelScope:
    return FunnelScope("all", None, _("Everyone"), args={"owner": "all"})


def default_scope(user: Any) -> FunnelScope:
    """Admins (view_all without view_team) see all; managers their teams; sellers themselves."""
    if can(user, "funnel.view_team") and user.team_ids:
        return FunnelScope("teams", _members(user.team_ids), _("My teams"), args={},
                           team_ids=tuple(user.team_ids))
    if can(user, "funnel.view_all"):
        return _all()
    return _me(user)


def resolve_scope(user: Any, owner: str | None = None, team: str | int | None = None
                  ) -> FunnelScope:
    """The scope named by ``owner`` (``me`` | ``all`` | a user id) or ``team`` (a team id)."""
    owner = (str(owner).strip() if owner is not None else "")
    team = (str(team).strip() if team is not None else "")
    if owner and team:
        raise ScopeNotFound("give either owner or team, not both")
    if team:
        team_id = _int(team, "team")
        row = db.session.get(Team, team_id)
        if row is None:
            raise ScopeNotFound("team")
        if not (can(user, "funnel.view_all")
                or (can(user, "funnel.view_team") and team_id in user.team_ids)):
            raise ScopeDenied("team")
        return FunnelScope("team", _members([team_id]), row.name, team_id=team_id,
                           args={"team": str(team_id)}, team_ids=(team_id,))
    if not owner:
        return default_scope(user)
    if owner == "me":
        return _me(user)
    if owner == "all":
        if not can(user, "funnel.view_all"):
            raise ScopeDenied("all")
        return _all()
    user_id = _int(owner, "owner")
    if user_id == user.id:
        return _me(user)
    if can(user, "funnel.view_all"):
        allowed = True
    elif can(user, "funnel.view_team") and user.team_ids:
        allowed = user_id in _members(user.team_ids)
    else:
        allowed = False
    if not allowed:
        raise ScopeDenied("owner")
    other = db.session.get(User, user_id)
    if other is None:
        raise ScopeNotFound("owner")
    return FunnelScope("user", (user_id,), other.label, user_id=user_id,
                       args={"owner": str(user_id)})


def scope_choices(user: Any) -> list[tuple[dict[str, str], str]]:
    """The scopes offered in the selector: (query arguments, label). Two small queries."""
    out: list[tuple[dict[str, str], str]] = [({"owner": "me"}, _("Me"))]
    see_all = can(user, "funnel.view_all")
    see_team = can(user, "funnel.view_team")
    if see_team and user.team_ids:
        out.append(({}, _("My teams")))
    if see_all:
        out.append(({"owner": "all"}, _("Everyone")))
    if see_all:
        teams = list(db.session.scalars(select(Team).order_by(Team.name)))
        people = list(db.session.scalars(select(User).where(User.active.is_(True))
                                         .order_by(User.username)))
    elif see_team and user.team_ids:
        teams = list(db.session.scalars(select(Team).where(Team.id.in_(user.team_ids))
                                        .order_by(Team.name)))
        people = list(db.session.scalars(select(User).where(
            User.id.in_(select(TeamMember.user_id).where(TeamMember.team_id.in_(user.team_ids))),
            User.active.is_(True)).order_by(User.username)))
    else:
        teams, people = [], []
    out += [({"team": str(t.id)}, _("Team %(name)s", name=t.name)) for t in teams]
    out += [({"owner": str(u.id)}, u.label) for u in people if u.id != user.id]
    return out


def manageable_users(user: Any) -> list[User]:
    """Whose targets ``user`` may set: everyone with view_all, otherwise their teams' people."""
    query = select(User).where(User.active.is_(True)).order_by(User.username)
    if not can(user, "funnel.view_all"):
        query = query.where(User.id.in_(select(TeamMember.user_id).where(
            TeamMember.team_id.in_(user.team_ids or [0]))))
    return list(db.session.scalars(query))


def manageable_teams(user: Any) -> list[Team]:
    query = select(Team).order_by(Team.name)
    if not can(user, "funnel.view_all"):
        query = query.where(Team.id.in_(user.team_ids or [0]))
    return list(db.session.scalars(query))
