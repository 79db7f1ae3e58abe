"""/api/v1/funnel/stalled writes its JSON itself: the same bytes as the figure's objects
(``dwell.stalled``) put through the schema and Flask's JSON provider, for awkward values too."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from conveyor.plugins.funnel import dwell as dwell_mod
from conveyor.plugins.funnel.schemas import FunnelStalledSchema
from conveyor.plugins.funnel.sqlparts import load_pipeline

URL = "/api/v1/funnel/stalled?owner=all&from=2020-01-01&to=2029-12-31"
ODD = [  # (title, amount, microseconds taken off the moment entered)
    ('Ünïcødé "quoted" \\ back\nslash\t商机 — 😀', Decimal("1234.50"), 250_000),
    ("</script>&amp;", Decimal("0.10"), 1),
    ("plain", Decimal("999999999999.99"), 0),
    ("", Decimal("0.00"), 999_999),
    ("negative", Decimal("-17.05"), 500_000),
]


def _expected(app, owners):
    """The answer as the endpoint built it before it wrote JSON itself."""
    rows, total = dwell_mod.stalled(load_pipeline(), owners, limit=500)
    body = {"total": total, "deals": [
        {"deal_id": r.id, "title": r.title, "owner_id": r.owner_id, "owner": r.owner,
         "stage_id": r.stage.id, "stage_entered_at": r.entered_at.isoformat(),
         "days": round(r.days, 2), "threshold_days": round(r.threshold_days, 2),
         "amount": str(r.amount), "currency": r.currency} for r in rows]}
    return app.json.response(FunnelStalledSchema().dump(body)).get_data(), rows


@pytest.mark.parametrize("debug", [False, True])
def test_stalled_json_is_what_the_provider_writes(world, app, api_headers, users, monkeypatch,
                                                  debug):
    from conveyor import db
    from conveyor.models import Deal

    now = world.now + timedelta(microseconds=123_457)
    monkeypatch.setattr(dwell_mod, "utcnow", lambda: now)
    with app.test_request_context():
        _, rows = _expected(app, None)
        assert len(rows) > len(ODD)
        entered = {}
        for row, (title, amount, micro) in zip(rows, ODD):
            at = row.entered_at - timedelta(microseconds=micro)
            entered[title] = at.isoformat()
            db.session.execute(update(Deal).where(Deal.id == row.id).values(
                title=title, amount=amount, stage_entered_at=at))
        db.session.commit()
    app.debug = debug
    client = app.test_client()
    for who, owners in (("admin", None), ("seller", [users["seller"]])):
        url = URL if who == "admin" else URL.replace("owner=all", "owner=me")
        response = client.get(url, headers=api_headers(who))
        assert response.status_code == 200
        with app.test_request_context():
            expected, rows = _expected(app, owners)
        assert response.mimetype == "application/json"
        assert response.get_data() == expected
        got = response.get_json()
        assert got["total"] >= len(got["deals"]) == len(rows) > 0
        if owners is None:  # the awkward rows are among everyone's, and deals without owner
            by_title = {d["title"]: d for d in got["deals"]}
            for title, amount, _micro in ODD:
                assert by_title[title]["amount"] == str(amount)
                assert by_title[title]["stage_entered_at"] == entered[title]
            assert any(d["owner_id"] is None and d["owner"] == "" for d in got["deals"])


def test_stalled_rows_match_the_objects(ctx, world):
    """The rows are read without the columns' types: the same values as the ORM reads."""
    from conveyor import db
    from conveyor.models import Deal
    from conveyor.plugins.funnel.sqlparts import money

    pipe = load_pipeline()
    found = dwell_mod.stalled_rows(pipe, None, limit=None, now=world.now)
    rows, total = dwell_mod.stalled(pipe, None, limit=None, now=world.now)
    assert found.total == total == len(found.rows) == len(rows)
    for plain, r in zip(found.rows, rows):
        assert plain[0] == r.id and plain[4] == r.stage.id
        assert plain[5].tzinfo is None and plain[5].replace(tzinfo=r.entered_at.tzinfo) == r.entered_at
        assert plain[6] == r.days == (world.now - r.entered_at).total_seconds() / 86400
        assert plain[7] == str(r.amount) and r.amount == r.amount.quantize(Decimal("0.01"))
        assert found.threshold_days[r.stage.id] == r.threshold_days
        deal = db.session.get(Deal, r.id)
        assert r.entered_at.isoformat() == deal.stage_entered_at.isoformat()
        assert str(r.amount) == str(money(deal.amount))
        assert (r.title, r.owner_id, r.currency) == (deal.title, deal.owner_id, deal.currency)
    assert any(r.owner_id is None and r.owner == "" for r in rows)


def test_a_limited_list_is_the_head_of_the_whole_one(ctx, world, users):
    """A limit keeps the longest-waiting (ties by id) across stages and owners: on SQLite the
    parts' index ranges are merged and cut at the limit, elsewhere each part is cut."""
    from conveyor import db
    from conveyor.models import Deal

    pipe = load_pipeline()
    everyone, _total = dwell_mod.stalled(pipe, None, limit=None, now=world.now)
    stages = {}
    for r in everyone:  # one stalled deal of each stage and owner waiting since the same moment
        stages.setdefault((r.stage.id, r.owner_id), r)
    tied = sorted(stages.values(), key=lambda r: r.id)
    assert len({r.stage.id for r in tied}) > 2
    moment = min(r.entered_at for r in everyone) + timedelta(seconds=1)
    db.session.execute(update(Deal).where(Deal.id.in_([r.id for r in tied]))
                       .values(stage_entered_at=moment))
    db.session.commit()
    for owners in (None, [users["seller"]], [users["seller"], users["seller2"]]):
        whole, total = dwell_mod.stalled(pipe, owners, limit=None, now=world.now)
        assert [r.entered_at for r in whole] == sorted(r.entered_at for r in whole)
        assert len(whole) == total > 10
        for limit in (1, 3, len([r for r in tied if owners is None or r.owner_id in owners]),
                      10, total - 1, total):
            head, head_total = dwell_mod.stalled(pipe, owners, limit=limit, now=world.now)
            assert head_total == total
            assert [(r.id, r.entered_at) for r in head] == [
                (r.id, r.entered_at) for r in whole[:limit]], (owners, limit)
