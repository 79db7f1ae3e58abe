"""What plugins hand to the core through ``register_*`` hooks: small frozen records."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Manifest:
    """A plugin's identity card, the ``manifest`` attribute of its plugin module."""

    title: Any
    requires: tuple[str, ...] = ()  # hard: start-up fails without them
    uses: tuple[str, ...] = ()  # soft: ordered before us when enabled
    description: Any = ""
    hookspecs: Any = None  # a module or class of extra hook specifications


@dataclass(frozen=True)
class Permission:
    """A named capability (``hello.view``) that roles grant; views declare it with ``require``."""

    name: str
    label: Any = ""
    description: Any = ""


@dataclass(frozen=True)
class NavItem:
    """An entry of the main navigation, shown to users holding ``permission``."""

    id: str
    label: Any
    endpoint: str
    permission: str
    order: int = 100


@dataclass(frozen=True)
class Widget:
    """A home-screen box. ``render(user)`` returns HTML (usually ``render_template``)."""

    id: str
    title: Any
    permission: str
    render: Callable[[Any], str]


@dataclass(frozen=True)
class Panel:
    """A box on a card. ``render(obj, user)`` returns HTML; ``target`` is customer or deal.
    ``merges_timeline``: the panel shows the card's timeline inside its own list (read with
    ``conveyor.web.timeline.card_timeline_statement``), so the card leaves its timeline box out
    whenever the panel is shown."""

    id: str
    title: Any
    target: str
    permission: str
    render: Callable[[Any, Any], str]
    order: int = 100
    merges_timeline: bool = False


@dataclass(frozen=True)
class Action:
    """A link or a POST button offered on a customer or deal card."""

    label: Any
    url: str
    method: str = "get"  # "post" renders a small CSRF-protected form button


@dataclass(frozen=True)
class ListFilter:
    """A filter on a list: ``apply(select, value)`` returns the narrowed select."""

    name: str
    label: Any
    model: str  # "customer" or "deal"
    choices: Callable[[], list[tuple[str, Any]]]
    apply: Callable[[Any, str], Any]


@dataclass(frozen=True)
class Setting:
    """A configuration key a plugin reads: ``<plugin>.<name>``, with default, type and doc;
    config files and ``CONVEYOR_<PLUGIN>_<NAME>`` override the default."""

    key: str
    default: Any
    type: type = str
    doc: str = ""
    example: Any = None
    choices: tuple[Any, ...] = field(default=())


@dataclass(frozen=True)
class Job:
    """Work run outside the request (see :func:`conveyor.enqueue`): ``func(**payload)`` in an app
    context. The core owns the session: it commits when ``func`` returns (with the outbox row
    marked done, in the same transaction) and rolls back when it raises, then retries with
    backoff up to ``max_attempts`` and records the failure for an admin."""

    name: str  # "<plugin>.<name>"
    func: Callable[..., Any]
    max_attempts: int = 5
    timeout: int = 600  # seconds a claim lasts before another worker may take the job over
    title: Any = ""


@dataclass(frozen=True)
class Schedule:
    """A recurring job: run ``job`` with ``kwargs`` every ``every`` (a timedelta), or every
    ``setting`` minutes when that setting key is given (so an admin tunes it in config)."""

    job: str
    every: timedelta | None = None
    setting: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageGate:
    """A named condition a deal must meet to enter (or pass) a stage whose admin switched it on.

    ``check(move)`` gets a :class:`StageMove` and returns ``None`` to let the deal through, or a
    reason (a lazy string, so each reader gets their language) to refuse the move."""

    name: str  # "<plugin>.<name>", e.g. "approvals.approved:contract"
    label: Any
    check: Callable[[Any], Any]
    description: Any = ""


@dataclass(frozen=True)
class StageMove:
    """What a gate is asked about: ``deal`` going from ``old`` to ``new`` (``old`` is ``None`` for a
    new deal), stopped at ``gated`` — the stage whose gate this is (``new`` itself or one the move
    passes) — by ``by``."""

    deal: Any
    old: Any
    new: Any
    gated: Any
    by: Any
