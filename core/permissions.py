"""Permission checks and record rules, in one place.

A view declares its permission with :func:`require` (or :func:`public`); a test walks the URL
map so no route escapes. Record rules are SQL: :func:`scope` returns the criteria that limit a
model's rows to what the user may see (own / team / all), narrowed further by plugins.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import abort, current_app, g
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, select, true

from .role_layers import SCOPES, current_roles

F = TypeVar("F", bound=Callable[..., Any])


def permissions_of(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    roles = current_roles()
    perms: set[str] = set()
    for name in user.roles:
        if name in roles:
            perms |= roles[name].permissions
    return perms


def can(user: Any, permission: str) -> bool:
    """Whether ``user``'s roles hold ``permission`` (for showing a link or a button; the view
    itself declares its permission with :func:`require`)."""
    return permission in permissions_of(user)


def scope_of(user: Any) -> str:
    """The widest record scope among the user's roles."""
    roles = current_roles()
    best = 0
    for name in getattr(user, "roles", ()):
        if name in roles:
            best = max(best, SCOPES.index(roles[name].scope))
    return SCOPES[best]


def require(permission: str) -> Callable[[F], F]:
    """Refuse the view unless the user holds ``permission``: 401 anonymous, 403 lacking it."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.__conveyor_permission__ = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view as deliberately open to anyone (login, health, web-to-lead)."""
    view.__conveyor_permission__ = None  # type: ignore[attr-defined]
    return view


def login_required(view: F) -> F:
    """Any signed-in user (profile, home): still declared, still checked."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)

    wrapped.__conveyor_permission__ = "login"  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def owner_ids(user: Any) -> Any:
    """The user ids (a list, or a SELECT over a CTE for teams) whose records ``user`` may see,
    per the record scope."""
    kind = scope_of(user)
    if kind == "own":
        return [user.id]
    return _team_owners(user.id)


@lru_cache(maxsize=1024)
def _team_owners(user_id: int) -> Any:
    """The SELECT of a user's teams' members and the user, built once per user: the team is
    resolved in SQL when it runs, so the statement never goes stale, and building the CTE cost
    ~0.2 ms of every page a team's manager opened."""
    from .models import TeamMember

    my_teams = select(TeamMember.team_id).where(TeamMember.user_id == user_id)
    # A CTE: a statement that checks owners several times (the board: once per stage) lists the
    # team once.
    team = select(TeamMember.user_id).where(TeamMember.team_id.in_(my_teams)).union(
        select(user_id)).cte("visible_owners")
    return select(team.c.user_id)


def owner_criteria(owner_column: Any, user: Any) -> ColumnElement[bool]:
    """The role's record rule on an owner column: anything (all), the user (own, one comparison:
    a one-item IN list is re-rendered on every run) or the user's teams."""
    kind = scope_of(user)
    if kind == "all":
        return true()
    if kind == "own":
        return owner_column == user.id  # type: ignore[no-any-return]
    return owner_column.in_(owner_ids(user))  # type: ignore[no-any-return]


def scope(model: type, user: Any, permission: str | None = None) -> ColumnElement[bool]:
    """SQL criteria limiting ``model`` to rows ``user`` may see. Plugins may only narrow."""
    cache_key = (model, getattr(user, "id", None), permission)
    cache = g.setdefault("conveyor_scope_cache", {})
    if cache_key in cache:
        return cache[cache_key]
    rule = getattr(model, "__record_rule__", None)
    if scope_of(user) == "all":
        criteria: ColumnElement[bool] = true()
    elif rule:
        criteria = rule(owner_ids(user), user)
    else:
        criteria = owner_criteria(model.owner_id, user)  # type: ignore[attr-defined]
    extra = plugin_filters(model, user, permission)
    if extra:
        criteria = and_(criteria, *extra)
    cache[cache_key] = criteria
    return criteria


def plugin_filters(model: type, user: Any, permission: str | None = None) -> list[Any]:
    """What plugins add to the role's record rule for ``model`` (``record_filters``): empty when
    the rule alone decides, which lets precomputed totals per owner stand in for a scan."""
    cache_key = ("plugin_filters", model, getattr(user, "id", None), permission)
    cache = g.setdefault("conveyor_scope_cache", {})
    if cache_key not in cache:
        cache[cache_key] = [
            c
            for result in current_app.extensions["conveyor"].hook.record_filters(
                model=model, user=user, permission=permission
            )
            for c in (result or ())
        ]
    return cache[cache_key]


def scoped(model: type, user: Any, permission: str | None = None) -> Select[Any]:
    """``select(model)`` already limited to what ``user`` may see."""
    return select(model).where(scope(model, user, permission))


_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def scoped_statement(model: type, user: Any, key: tuple[Any, ...],
                     build: Callable[[], Any]) -> Any:
    """``build()``'s statement, kept per process for (``key``, user, record scope) when the
    role's rule alone decides what ``user`` sees of ``model``: building a statement with its
    scope costs about as much as running it. Per-request values must enter as bind parameters
    (``bindparam("customer_id")``), never as literals. When a plugin narrows ``model``
    (``record_filters``, which may depend on the request) or the model has its own rule, it is
    built afresh each time — unless the model declares ``__record_rule_by_owners__`` (its rule
    depends only on the owner ids, i.e. the user's id and scope, both in the key)."""
    if plugin_filters(model, user) or (getattr(model, "__record_rule__", None) and
                                       not getattr(model, "__record_rule_by_owners__", False)):
        return build()
    full_key = (model, *key, getattr(user, "id", None), scope_of(user))
    statement = _STATEMENTS.get(full_key)
    if statement is None:
        if len(_STATEMENTS) >= 5000:
            _STATEMENTS.clear()
        statement = _STATEMENTS[full_key] = build()
    return statement


def get_visible_or_404(model: type, ident: int, user: Any, options: Any = (),
                       cache_key: str | None = None) -> Any:
    """The row if it exists and the user may see it; otherwise 404, never a hint it exists.
    ``options``: loader options (e.g. ``joinedload`` of what the page shows, same statement).
    ``cache_key``: name the statement to keep it per user (``scoped_statement``); only for a
    caller whose ``options`` never change."""
    from sqlalchemy import bindparam

    from .extensions import db

    def build() -> Any:
        return scoped(model, user).where(
            model.id == bindparam("ident")).options(*options)  # type: ignore[attr-defined]

    query = scoped_statement(model, user, ("visible", cache_key), build) if cache_key \
        else build()
    obj = db.session.scalars(query, {"ident": ident}).unique().first()
    if obj is None:
        abort(404)
    return obj


def roles_holding(permission: str) -> list[str]:
    """Names of the roles (admin edits included) that grant ``permission``."""
    return [name for name, role in current_roles().items() if permission in role.permissions]


def colleagues(user: Any, permission: str | None = None, active_only: bool = True) -> Select[Any]:
    """``select(User)`` of the people within ``user``'s record scope — everyone for scope "all" —
    optionally only those whose roles hold ``permission``. For owner pickers and filters."""
    from .models import User, UserRole

    query = select(User).order_by(User.username)
    if active_only:
        query = query.where(User.active.is_(True))
    if scope_of(user) != "all":
        query = query.where(User.id.in_(owner_ids(user)))
    if permission is not None:
        query = query.where(User.id.in_(
            select(UserRole.user_id).where(UserRole.role.in_(roles_holding(permission)))))
    return query
