"""Fixtures: an app with relationships and a throwaway "relinterest" plugin.

relinterest stands in for leads and calls: it stores interest signals, answers
``relationship_interest`` and emits events named as contracts.md says (CallLogged,
LeadConverted), so these tests never depend on the real leads/calls plugins.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Boolean, ForeignKey, select
from sqlalchemy.orm import Mapped, mapped_column

from conveyor import Event, create_customer, create_deal, db, emit, hookimpl, move_deal
from conveyor.models import Customer, Deal, Stage, User
from conveyor.types import UTCDateTime, utcnow


class RelinterestSignal(db.Model):
    __tablename__ = "relinterest_signal"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    interested: Mapped[bool] = mapped_column(Boolean, default=True)


@dataclass
class CallLogged(Event):
    call: Any
    customer: Any
    interested: bool
    by: Any = None


@dataclass
class LeadConverted(Event):
    lead: Any
    customer: Any
    contact: Any
    deal: Any
    by: Any = None


class InterestPlugin:
    """Implements the relationships plugin's hook the way leads and calls do."""

    @hookimpl
    def register_models(self) -> list[type]:
        return [RelinterestSignal]

    @hookimpl
    def register_events(self) -> list[type]:
        return [CallLogged, LeadConverted]

    @hookimpl(optionalhook=True)
    def relationship_interest(self, customer_ids: list[int] | None) -> list[Any]:
        query = select(RelinterestSignal.customer_id, RelinterestSignal.at).where(
            RelinterestSignal.interested.is_(True))
        if customer_ids is not None:
            query = query.where(RelinterestSignal.customer_id.in_(customer_ids))
        return [query]


class Ops:
    """The real core operations (and the stand-in plugin's), one commit each."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def user(self, name: str = "seller") -> User:
        return db.session.get(User, self.app.config["TEST_USER_IDS"][name])

    def stage(self, won: bool = False, lost: bool = False, position: int = 0) -> Stage:
        query = select(Stage).where(Stage.is_won.is_(won), Stage.is_lost.is_(lost))
        stages = list(db.session.scalars(query.order_by(Stage.position)))
        return stages[min(position, len(stages) - 1)]

    def customer(self, name: str = "Acme", owner: str = "seller") -> Customer:
        customer = create_customer({"name": name}, self.user(owner))
        db.session.commit()
        return customer

    def deal(self, customer: Customer | int, won: bool = False, by: str = "seller") -> Deal:
        cid = customer if isinstance(customer, int) else customer.id
        data: dict[str, Any] = {"title": "Deal", "customer_id": cid}
        if won:
            data["stage"] = self.stage(won=True)
        deal = create_deal(data, self.user(by))
        db.session.commit()
        return deal

    def move(self, deal: Deal | int, stage: Stage, by: str = "seller") -> Deal:
        deal = db.session.get(Deal, deal if isinstance(deal, int) else deal.id)
        move_deal(deal, stage, self.user(by))
        db.session.commit()
        return deal

    def win(self, deal: Deal | int) -> Deal:
        return self.move(deal, self.stage(won=True))

    def lose(self, deal: Deal | int) -> Deal:
        return self.move(deal, self.stage(lost=True))

    def reopen(self, deal: Deal | int, position: int = 1) -> Deal:
        return self.move(deal, self.stage(position=position))

    def call(self, customer: Customer | int, at: datetime | None = None,
             interested: bool = True) -> None:
        cid = customer if isinstance(customer, int) else customer.id
        signal = RelinterestSignal(customer_id=cid, at=at or utcnow(), interested=interested)
        db.session.add(signal)
        db.session.flush()
        emit(CallLogged(call=signal, customer=db.session.get(Customer, cid),
                        interested=interested, by=self.user()))
        db.session.commit()

    def convert(self, customer: Customer | int) -> None:
        """A lead linked to the customer converts (the signal stands in for the lead)."""
        cid = customer if isinstance(customer, int) else customer.id
        lead = RelinterestSignal(customer_id=cid, at=utcnow(), interested=True)
        db.session.add(lead)
        db.session.flush()
        emit(LeadConverted(lead=lead, customer=db.session.get(Customer, cid), contact=None,
                           deal=None, by=self.user()))
        db.session.commit()

    def type_of(self, customer: Customer | int) -> str | None:
        from conveyor.plugins.relationships.models import RelationshipState

        cid = customer if isinstance(customer, int) else customer.id
        state = db.session.get(RelationshipState, cid, populate_existing=True)
        return state.type if state is not None else None


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app(plugins=["relationships"], extra_plugins=[("relinterest", InterestPlugin())])


@pytest.fixture
def ops(app: Any) -> Any:
    with app.app_context():
        yield Ops(app)


@pytest.fixture
def make_ops(make_app: Any) -> Any:
    """``make_ops(lapsed_after_months=6)``: Ops on a fresh app with those settings (in context)."""
    contexts = []

    def factory(**settings: Any) -> Ops:
        app = make_app(plugins=["relationships"],
                       extra_plugins=[("relinterest", InterestPlugin())],
                       config={"relationships": settings})
        ctx = app.app_context()
        ctx.push()
        contexts.append(ctx)
        return Ops(app)

    yield factory
    for ctx in reversed(contexts):
        db.session.remove()
        ctx.pop()


class ContextOps:
    """Ops for tests that also make requests: each call in its own app context, returning ids.

    (A context kept open across requests would share ``g`` — and the signed-in user — between
    the test clients.)
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self.app.app_context():
                result = getattr(Ops(self.app), name)(*args, **kwargs)
                out = result.id if hasattr(result, "id") else result
                db.session.remove()
                return out

        return call


@pytest.fixture
def web_ops(app: Any) -> ContextOps:
    return ContextOps(app)
