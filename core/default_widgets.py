"""The core's home-screen widgets, through the same hook plugins use.

Role files list them by id (``core.my_deals``…). Each renders a template under
``templates/widgets/`` with a fixed number of queries; a widget that raises is shown as an error
box by the home screen, so these never need their own try/except.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask import current_app, render_template
from sqlalchemy import bindparam, func, select, union_all

from .contrib import Widget
from .extensions import db
from .hookspecs import hookimpl
from .i18n import _l
from .models import Customer, Deal, DealStageTotal, Stage, User
from .money import convert_total, rates_on
from .queries import written_limit
from .types import utcnow

MY_DEALS_LIMIT = 10


def my_deals(user: Any) -> str:
    """The user's own open deals, the closest expected close first (no date last): each open
    stage's earliest ten from the (owner, stage, expected close) index, the ten earliest of
    those kept — not every open deal of the user read and sorted."""
    from .pipelines import current_pipelines

    open_ids = tuple(s.id for s in current_pipelines().all_stages() if not s.is_closed)
    if not open_ids:
        return render_template("widgets/my_deals.html", deals=[])
    from .web.listing import plain_rows

    dialect = db.session.get_bind().dialect.name
    deals = plain_rows(_my_deals_statement(open_ids, dialect), {"owner": user.id})
    return render_template("widgets/my_deals.html", deals=deals)


@lru_cache(maxsize=16)
def _my_deals_statement(open_ids: tuple[int, ...], dialect: str) -> Any:
    """Built once per set of open stages and database (the owner is a bind parameter):
    building twenty subqueries costs more than running them."""
    mine = Deal.owner_id == bindparam("owner")
    if dialect == "postgresql":
        return _my_deals_merged(open_ids, mine)
    # Per open stage, its ten earliest dated deals and its ten oldest undated ones, each read in
    # order from the (owner, stage, expected close, id) index. One branch for the undated deals
    # of every stage (stage IN …, by id) had SQLite walk the user's (owner, id, stage) index
    # through all 40k of a seller's deals for the few without a date (25 ms at 1M deals).
    branches = [select(Deal.id, Deal.expected_close).where(mine, Deal.stage_id == sid, dated)
                .order_by(Deal.expected_close, Deal.id).limit(MY_DEALS_LIMIT).subquery()
                for sid in open_ids
                for dated in (Deal.expected_close.is_not(None), Deal.expected_close.is_(None))]
    candidates = union_all(*[select(b.c.id, b.c.expected_close) for b in branches]).subquery()
    # The ten picked among the candidates from the index alone (id and date), and only those
    # read with their customer: joining all ~180 candidates first cost 0.03 ms more at 1M deals.
    first = (select(candidates.c.id)
             .order_by(candidates.c.expected_close.is_(None), candidates.c.expected_close,
                       candidates.c.id).limit(MY_DEALS_LIMIT))
    # Plain rows with the customer's name and the stage's percent joined in: one statement
    # instead of three (deals, then their customers and stages loaded as ORM objects, half
    # of the home page's time).
    return (select(Deal.id, Deal.title, Deal.amount, Deal.currency, Deal.expected_close,
                   Customer.name.label("customer_name"), Stage.percent.label("stage_percent"))
            .join(Customer, Customer.id == Deal.customer_id)
            .join(Stage, Stage.id == Deal.stage_id)
            .where(Deal.id.in_(first))
            .order_by(Deal.expected_close.is_(None), Deal.expected_close, Deal.id))


def _my_deals_merged(open_ids: tuple[int, ...], mine: Any) -> Any:
    """PostgreSQL: each open stage's deals in (expected close, id) order straight from the
    (owner, stage, expected close, id) index — NULLs last, as PostgreSQL sorts and stores them,
    so one branch per stage — merged (Merge Append) and cut at ten: about twenty rows read, and
    the customers of the ten joined after. The twenty-branch form below had PostgreSQL fetch
    and join the up to 200 candidates first (1.5 ms at 1M deals; this: 0.3 ms)."""
    ten = written_limit(MY_DEALS_LIMIT)  # a bound LIMIT lets a prepared plan read them all
    row = (Deal.id, Deal.title, Deal.amount, Deal.currency, Deal.expected_close, Deal.stage_id,
           Deal.customer_id)
    branches = [select(*row).where(mine, Deal.stage_id == sid)
                .order_by(Deal.expected_close, Deal.id).limit(ten) for sid in open_ids]
    merged = union_all(*branches)
    first = merged.order_by(merged.selected_columns.expected_close,
                            merged.selected_columns.id).limit(ten).subquery("mine")
    return (select(first.c.id, first.c.title, first.c.amount, first.c.currency,
                   first.c.expected_close, Customer.name.label("customer_name"),
                   Stage.percent.label("stage_percent"))
            .join(Customer, Customer.id == first.c.customer_id)
            .join(Stage, Stage.id == first.c.stage_id)
            .order_by(first.c.expected_close, first.c.id))


def pipeline_summary(user: Any) -> str:
    """Count, amount and weighted amount (amount × stage percent) of visible open deals."""
    from .pipelines import current_pipelines
    from .web.deals import open_totals, stage_label

    pipeline = current_pipelines().get()
    stages = [s for s in pipeline.stages if not s.is_closed] if pipeline else []
    totals = open_totals(user, [s.id for s in stages])
    today = utcnow().date()  # open deals: at today's rates
    rates = rates_on({c for t in totals.values() for c in t["amounts"]}, today)
    rows, grand = [], {"count": 0, "amounts": {}, "weighted": {}}
    for stage in stages:
        t = totals[stage.id]
        weighted = {cur: (amount * stage.percent / 100).quantize(Decimal("0.01"))
                    for cur, amount in t["amounts"].items()}
        rows.append({"stage": stage, "label": stage_label(stage), "count": t["count"],
                     "amount": convert_total(t["amounts"], today, rates),
                     "weighted": convert_total(weighted, today, rates)})
        grand["count"] += t["count"]
        for key, values in (("amounts", t["amounts"]), ("weighted", weighted)):
            for cur, amount in values.items():
                grand[key][cur] = grand[key].get(cur, Decimal("0")) + amount
    return render_template("widgets/pipeline_summary.html", rows=rows, count=grand["count"],
                           amount=convert_total(grand["amounts"], today, rates),
                           weighted=convert_total(grand["weighted"], today, rates))


def admin_overview(user: Any) -> str:
    """How big the installation is and which plugins are on. Deals are counted from
    ``deal_stage_totals`` (kept with every deal change): counting a million rows of ``deals``
    took 160 ms. Customers are counted as the lists count (``count_rows``: exact up to a few
    hundred, estimated beyond): PostgreSQL's ``count(*)`` of 100k customers took 4 ms of the
    admin's home page."""
    from .web.deals import count_label
    from .web.listing import count_rows

    totals = DealStageTotal.__table__
    open_stages = select(Stage.id).where(Stage.is_won.is_(False), Stage.is_lost.is_(False))
    counts = db.session.execute(select(
        select(func.count()).select_from(User).where(User.active.is_(True)).scalar_subquery(),
        select(func.coalesce(func.sum(totals.c.count), 0)).scalar_subquery(),
        select(func.coalesce(func.sum(totals.c.count), 0))
        .where(totals.c.stage_id.in_(open_stages)).scalar_subquery(),
    )).one()
    # every customer (an admin's page): counted as the lists count, the estimate kept a minute
    customers = count_label(count_rows(lambda: select(Customer), Customer.id,
                                       cache=(Customer, user, "admin-overview")))
    state = current_app.extensions["conveyor"]
    return render_template("widgets/admin_overview.html", users=counts[0], customers=customers,
                           deals=counts[1], open_deals=counts[2], plugins=state.plugins)


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    """The demo inserts its deals in bulk, past the ORM that keeps the stage totals: recompute
    them, so the pipeline summary and the board show the seeded deals. (Deals a plugin adds
    through ``conveyor.crm`` afterwards are counted as they come.)"""
    from .crm import rebuild_deal_totals

    rebuild_deal_totals(session)


@hookimpl(trylast=True)
def register_widgets() -> list[Widget]:
    return [
        Widget("core.my_deals", _l("My open deals"), "deals.view", my_deals),
        Widget("core.pipeline_summary", _l("Pipeline summary"), "deals.view", pipeline_summary),
        Widget("core.admin_overview", _l("Overview"), "admin.users", admin_overview),
    ]
