"""The won-amount day sums follow every change in its transaction, and equal a brute-force
GROUP BY over the deals after each step; the rebuild command gives the same rows."""
from __future__ import annotations

from decimal import Decimal

from click.testing import CliRunner
from sqlalchemy import func, select

from conveyor import create_deal, db, delete_deal, update_deal
from conveyor.models import Deal
from conveyor.plugins.relationships.services import recompute, set_override
from conveyor.plugins.relationships.won_ledger import DAYS, LEDGER, rebuild, won_deals_source


def brute_force() -> dict[tuple, tuple[int, int]]:
    """(owner, day, type, currency) → (deals, cents), straight from deals and current types."""
    src = won_deals_source().subquery()
    cols = list(src.c)
    owner, day, kind, currency, cents = cols[2], cols[3], cols[4], cols[5], cols[6]
    return {(o, str(d)[:10], t, c): (int(n), int(s)) for o, d, t, c, n, s in db.session.execute(
        select(owner, day, kind, currency, func.count(), func.sum(cents))
        .group_by(owner, day, kind, currency))}


def kept() -> dict[tuple, tuple[int, int]]:
    return {(o, str(d)[:10], t, c): (int(n), int(s)) for o, d, t, c, n, s in db.session.execute(
        select(DAYS.c.owner_id, DAYS.c.day, DAYS.c.type, DAYS.c.currency, DAYS.c.count,
               DAYS.c.cents))}


def check() -> None:
    db.session.expire_all()
    assert kept() == brute_force()
    ledger = db.session.scalar(select(func.count()).select_from(LEDGER))
    assert ledger == sum(n for n, _ in brute_force().values())


def test_the_day_sums_follow_wins_edits_moves_deletes_and_types(ops):
    won, lost = ops.stage(won=True), ops.stage(lost=True)
    seller, seller2 = ops.user("seller"), ops.user("seller2")
    a, b = ops.customer("A"), ops.customer("B")

    def deal(customer, amount, currency="USD", stage=None, owner=seller):
        d = create_deal({"title": "D", "customer_id": customer.id, "amount": Decimal(amount),
                         "currency": currency, **({"stage": stage} if stage else {})}, owner)
        db.session.commit()
        return d

    d1 = deal(a, "100.25", stage=won)          # created won: customer A current
    check()
    d2 = deal(a, "50", "EUR")
    ops.win(d2)                                # second win: A regular, d1 moves to regular
    check()
    assert {t for (_o, _d, t, _c) in kept()} == {"regular"}
    d3 = deal(b, "70.10", "CNY")
    ops.win(d3)
    check()
    update_deal(db.session.get(Deal, d3.id), {"amount": Decimal("80.30")}, seller)
    db.session.commit()
    check()
    update_deal(db.session.get(Deal, d3.id), {"currency": "EUR"}, seller)
    db.session.commit()
    check()
    update_deal(db.session.get(Deal, d3.id), {"owner_id": seller2.id}, seller)
    db.session.commit()
    check()
    update_deal(db.session.get(Deal, d2.id), {"customer_id": b.id}, seller)  # A back to current
    db.session.commit()
    check()
    ops.reopen(d1)
    check()
    ops.move(d1, lost)
    check()
    ops.win(d1)
    check()
    delete_deal(db.session.get(Deal, d2.id), seller)
    db.session.commit()
    check()
    set_override(db.session, a.id, "lapsed", "Moved abroad", ops.user("manager"))
    db.session.commit()
    check()
    assert any(t == "lapsed" for (_o, _d, t, _c) in kept())
    settings = ops.app.extensions["conveyor"].settings
    settings["relationships.regular_min_wins"] = 1   # a recompute moves types in bulk
    recompute(db.session)
    check()
    settings["relationships.regular_min_wins"] = 2
    recompute(db.session, batch_size=1)
    check()


def test_rebuild_and_the_command_give_the_same_rows(ops):
    won = ops.stage(won=True)
    customers = [ops.customer(f"C{i}") for i in range(3)]
    for i, c in enumerate(customers):
        for k in range(i + 1):
            create_deal({"title": "D", "customer_id": c.id, "amount": Decimal(10 * k + 1),
                         "currency": "USD" if k % 2 else "EUR", "stage": won}, ops.user())
    db.session.commit()
    before = kept()
    assert before == brute_force() and before
    assert rebuild(db.session) == 6
    db.session.commit()
    assert kept() == before
    db.session.execute(DAYS.delete())
    db.session.commit()
    result = CliRunner().invoke(ops.app.cli, ["relationships", "rebuild-won"],
                                catch_exceptions=False)
    assert "6 won deals" in result.output
    db.session.expire_all()
    assert kept() == before


def test_a_first_recompute_fills_empty_sums(ops):
    won = ops.stage(won=True)
    c = ops.customer()
    create_deal({"title": "D", "customer_id": c.id, "amount": Decimal(5), "stage": won},
                ops.user())
    db.session.commit()
    db.session.execute(DAYS.delete())
    db.session.execute(LEDGER.delete())
    db.session.commit()
    recompute(db.session)
    check()
    assert list(kept().values()) == [(1, 500)]


def counts_kept() -> dict[tuple[int, str], int]:
    from conveyor.plugins.relationships.type_counts import COUNTS

    return {(o, t): n for o, t, n in db.session.execute(
        select(COUNTS.c.owner_id, COUNTS.c.type, COUNTS.c.count))}


def counts_brute_force() -> dict[tuple[int, str], int]:
    from conveyor.plugins.relationships.type_counts import customers_source

    src = customers_source().subquery()
    owner, kind = list(src.c)[1], list(src.c)[2]
    return {(o, t): n for o, t, n in db.session.execute(
        select(owner, kind, func.count()).group_by(owner, kind))}


def test_the_type_counts_follow_types_owners_and_deletions(ops):
    from conveyor import update_customer
    from conveyor.models import Customer
    from conveyor.plugins.relationships.type_counts import MOVES, TRANSITION, moves_grouped

    def check_counts() -> None:
        db.session.expire_all()
        assert counts_kept() == counts_brute_force()
        kept_moves = {(o, str(d)[:10], a, b): n for o, d, a, b, n in db.session.execute(
            select(MOVES.c.owner_id, MOVES.c.day, MOVES.c.from_type, MOVES.c.to_type,
                   MOVES.c.count))}
        logged = moves_grouped(db.session.connection(), TRANSITION.c.id.is_not(None))
        assert kept_moves == {(o, str(d), a, b): n for (o, d, a, b), n in logged.items()}

    a, b = ops.customer("A"), ops.customer("B", owner="seller2")
    check_counts()
    ops.win(ops.deal(a))
    check_counts()
    update_customer(db.session.get(Customer, a.id), {"owner_id": ops.user("seller3").id},
                    ops.user("manager"))
    db.session.commit()
    check_counts()
    set_override(db.session, b.id, "regular", "Partner", ops.user("manager"))
    db.session.commit()
    check_counts()
    c = ops.customer("C")
    check_counts()
    db.session.delete(db.session.get(Customer, c.id))
    db.session.commit()
    check_counts()
    ops.win(ops.deal(b))  # B: the override gives way to the data (current)
    ops.win(ops.deal(b))  # a second win: B regular
    check_counts()
    settings = ops.app.extensions["conveyor"].settings
    settings["relationships.regular_min_wins"] = 3  # B moves down to current in the recompute
    recompute(db.session, batch_size=1)
    check_counts()
    assert (ops.user("seller2").id, "current") in counts_kept()
    settings["relationships.regular_min_wins"] = 2  # and back up
    recompute(db.session, batch_size=1)
    check_counts()
    assert counts_kept()[(ops.user("seller3").id, "current")] == 1  # A went with its owner
    assert counts_kept()[(ops.user("seller2").id, "regular")] == 1
    from conveyor.plugins.relationships.type_counts import rebuild as rebuild_counts

    before = counts_kept()
    rebuild_counts(db.session)
    db.session.commit()
    assert counts_kept() == before
    result = CliRunner().invoke(ops.app.cli, ["relationships", "rebuild-counts"],
                                catch_exceptions=False)
    assert "2 customers counted" in result.output
