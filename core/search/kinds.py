"""Kinds of records the search box finds: the core's three, and those plugins register
(``register_search_kinds``)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g
from sqlalchemy import Select, select

from ..i18n import _, _l
from .index import SearchIndex


@dataclass(frozen=True)
class SearchHit:
    """One found record as every view shows it: what it is, a line of detail, where it lives,
    and the phones and e-mails to call or write to (shown as ``tel:``/``mailto:`` links)."""

    kind: str
    id: int
    title: str
    detail: str
    url: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchKind:
    """A kind of record the search box finds.

    ``model`` is limited by the same record rules as its list (``conveyor.scope(model, user,
    permission)``) and shown only to holders of ``permission``. ``index`` must exist in the
    database (``create_search_index`` in a migration). ``rows(ids)`` turns a subquery of matching
    ids into the statement of the columns ``hit(row)`` needs (one statement per kind, whatever
    the number of hits); ``hit(row)`` makes the :class:`SearchHit`. ``label`` is the plural
    heading ("Customers"); ``order`` places the group on the results page; ``numbers=False``
    leaves the kind out when the query is a number (a phone or a tax id)."""

    name: str
    label: Any
    model: type
    permission: str
    index: SearchIndex
    rows: Callable[[Any], Select[Any]]
    hit: Callable[[Any], SearchHit]
    order: int = 100
    description: Any = field(default="", compare=False)
    # Whether a number typed alone (a phone, a tax id) is looked up in this kind. Deal titles
    # hold no phones, and their digits (numbers, years) would only cost a scan.
    numbers: bool = True


CUSTOMERS_INDEX = SearchIndex("customers", "customers", ("name", "tax_id"))
CONTACTS_INDEX = SearchIndex("contacts", "contacts", ("name", "email"), ("phone",))
DEALS_INDEX = SearchIndex("deals", "deals", ("title",))


def card_url(endpoint: str, key: str, ident: int) -> str:
    """``url_for(endpoint, **{key: ident})`` at the cost of a string join: the page's thirty
    hits share one ``url_maker`` per endpoint and request (url_for takes ~20 µs)."""
    from ..web import url_maker

    makers = g.setdefault("conveyor_search_urls", {})
    maker = makers.get(endpoint)
    if maker is None:
        maker = makers[endpoint] = url_maker(endpoint, key)
    return maker(ident)


def _customer_rows(ids: Any) -> Select[Any]:
    from ..models import Customer

    return select(Customer.id, Customer.name, Customer.tax_id, Customer.region).where(
        Customer.id.in_(ids))


def _customer_hit(row: Any) -> SearchHit:
    detail = " · ".join(p for p in (row.tax_id and _("Tax ID %(tax_id)s", tax_id=row.tax_id),
                                    row.region) if p)
    return SearchHit("customers", row.id, row.name, detail,
                     card_url("customers.card", "customer_id", row.id))


def _contact_rows(ids: Any) -> Select[Any]:
    from ..models import Contact, Customer

    return (select(Contact.id, Contact.name, Contact.position, Contact.phone, Contact.email,
                   Contact.customer_id, Customer.name.label("customer_name"))
            .join(Customer, Customer.id == Contact.customer_id).where(Contact.id.in_(ids)))


def _contact_hit(row: Any) -> SearchHit:
    detail = " · ".join(p for p in (row.position, row.customer_name) if p)
    return SearchHit("contacts", row.id, row.name, detail,
                     card_url("customers.card", "customer_id", row.customer_id),
                     (row.phone,) if row.phone else (), (row.email,) if row.email else ())


def _deal_rows(ids: Any) -> Select[Any]:
    from ..models import Customer, Deal

    return (select(Deal.id, Deal.title, Deal.stage_id, Customer.name.label("customer_name"))
            .join(Customer, Customer.id == Deal.customer_id).where(Deal.id.in_(ids)))


def _stage_text(stage_id: int) -> str:
    """"40% · Negotiation" for the stage, looked up once per request (ten deals share a few)."""
    labels = g.setdefault("conveyor_search_stages", {})
    label = labels.get(stage_id)
    if label is None:
        from ..pipelines import current_pipelines
        from ..web.deals import stage_label

        stage = current_pipelines().stages.get(stage_id)
        label = labels[stage_id] = stage_label(stage) if stage else ""
    return label


def _deal_hit(row: Any) -> SearchHit:
    detail = " · ".join(p for p in (row.customer_name, _stage_text(row.stage_id)) if p)
    return SearchHit("deals", row.id, row.title, detail,
                     card_url("deals.card", "deal_id", row.id))


def core_kinds() -> list[SearchKind]:
    from ..models import Contact, Customer, Deal

    return [
        SearchKind("customers", _l("Customers"), Customer, "customers.view", CUSTOMERS_INDEX,
                   _customer_rows, _customer_hit, order=10),
        SearchKind("contacts", _l("Contacts"), Contact, "customers.view", CONTACTS_INDEX,
                   _contact_rows, _contact_hit, order=20),
        SearchKind("deals", _l("Deals"), Deal, "deals.view", DEALS_INDEX,
                   _deal_rows, _deal_hit, order=30, numbers=False),
    ]


def all_kinds() -> list[SearchKind]:
    """The core's kinds and the plugins', in ``order``; collected once per app."""
    cache = current_app.extensions
    kinds = cache.get("conveyor_search_kinds")
    if kinds is None:
        found = core_kinds()
        for result in current_app.extensions["conveyor"].hook.register_search_kinds():
            found.extend(result or ())
        names = [k.name for k in found]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise RuntimeError(f"search kinds registered twice: {sorted(duplicates)}")
        kinds = cache["conveyor_search_kinds"] = sorted(found, key=lambda k: (k.order, k.name))
    return kinds


def create_indexes(connection: Any) -> None:
    """Build the index of every kind on ``connection`` (tests build tables with
    ``create_all``; real databases get them from the migrations)."""
    from sqlalchemy import text

    from .index import ensure_pg_trgm

    dialect = connection.dialect.name
    if dialect == "postgresql":
        ensure_pg_trgm(connection)
    for kind in all_kinds():
        if dialect == "sqlite":
            for statement in kind.index.drop_statements(dialect):
                connection.execute(text(statement))
        for statement in kind.index.create_statements(dialect):
            connection.execute(text(statement))
