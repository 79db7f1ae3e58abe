"""Discussions (issue 13, "Speed"): a deal card with a 1,000-post thread, and a post that
mentions 5 users and notifies 50 followers.

    python bench/bench_discussions.py [--rounds 30]

SQLite in a temporary folder:

* **card**: ``GET /deals/<id>`` as its seller, whose thread holds 1,000 posts (300 of them
  with a reply), against ``/_bench/bare/<id>`` (one primary-key SELECT) in the same rounds,
  **over HTTP** — the app served by gunicorn (one sync worker, loopback, a new connection per
  request: what a browser waits for, the measure of the core pages' goal, ``bench_core``) —
  and **in-process** (Flask's test client: the app's own work alone, where the signed-in
  layout by itself is several times the bare route). Goal: ≤ 3× over HTTP. The same card from
  an app without the plugin, on the same database, and the empty signed-in page are timed
  alongside: the floors the thread panel adds to. The statements of the card are counted with
  the thread at 1,000 posts.
* **post**: ``create_post`` of a post that mentions 5 users on a deal 50 others follow (55
  notifications in the recipients' languages, 5 new followers, the thread's counters; e-mail
  off), committed, against a bare insert of the same rows (the post, 55 notifications, 5
  followers, the thread update) with SQLAlchemy Core, committed. Both run in a request context
  that loads the author and the deal, as a request does. Goal: bare / post ≥ 0.5.

Writes ``bench/results/discussions.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_bare_route,
    capture_queries,
    client_for,
    measure,
    served,
    write_results,
)

CARD_GOAL = 3.0
POST_GOAL = 0.5
FOLLOWERS = 50
MENTIONED = 5


def build(folder: str, plugins: tuple[str, ...] = ("discussions",), create: bool = True
          ) -> Any:
    from conveyor.app import create_app
    from conveyor.schema import create_tables
    from conveyor.testing import seed_test_data

    app = create_app(config={"database_url": f"sqlite:///{folder}/bench.db", "secret_key": "bench",  # as the served app (make_bench_app)
                             "ratelimit_enabled": False, "plugins": list(plugins),
                             "discussions": {"storage_dir": f"{folder}/files"}},
                     plugins=list(plugins), instance_path=f"{folder}/instance")
    ids = None
    if create:
        create_tables(app)
        ids = seed_test_data(app)
    add_bare_route(app)
    return app, ids


def seed(app: Any, ids: dict[str, int], deals: int) -> tuple[int, list[int], list[str]]:
    """A 1,000-post deal, ``deals`` more deals with 50 followers each, 55 extra lawyers."""
    from sqlalchemy import insert

    from conveyor import create_customer, create_deal, db
    from conveyor.models import User, UserRole
    from conveyor.plugins.discussions.markdown import render
    from conveyor.plugins.discussions.models import Follower, Post, Thread
    from conveyor.types import utcnow

    with app.test_request_context():
        seller = db.session.get(User, ids["seller"])
        people = [User(username=f"colleague{i}", display_name=f"Colleague {i}",
                       email=f"c{i}@example.test", locale=("en", "ru", "zh_Hans")[i % 3])
                  for i in range(FOLLOWERS + MENTIONED)]
        db.session.add_all(people)
        db.session.flush()
        db.session.execute(insert(UserRole), [{"user_id": u.id, "role": "lawyer"} for u in people])
        customer = create_customer({"name": "Bench Ltd"}, by=seller)
        db.session.flush()
        made = [create_deal({"customer_id": customer.id, "title": f"Deal {i}", "amount": 1},
                            by=seller) for i in range(deals + 1)]
        db.session.flush()
        big = made[0]
        thread = Thread(resource="deals", record_id=big.id, title=big.title,
                        url=f"/deals/{big.id}", last_post_id=0, posts_count=0)
        db.session.add(thread)
        db.session.flush()
        html = render("A *post* with **some** Markdown and a [link](https://example.com).")
        now = utcnow()
        rows = [{"thread_id": thread.id, "author_id": seller.id, "body": "x", "html": html,
                 "mentions": [], "created_at": now} for _ in range(700)]
        db.session.execute(insert(Post), rows)
        from sqlalchemy import select

        tops = db.session.scalars(select(Post.id).where(Post.thread_id == thread.id)
                                  .order_by(Post.id).limit(300)).all()
        db.session.execute(insert(Post), [
            {"thread_id": thread.id, "author_id": seller.id, "body": "r", "html": html,
             "mentions": [], "reply_to_id": top, "created_at": now} for top in tops])
        thread.last_post_id = db.session.scalar(select(Post.id).order_by(Post.id.desc()))
        thread.posts_count = 1000
        followers = people[:FOLLOWERS]
        for deal in made[1:]:
            t = Thread(resource="deals", record_id=deal.id, title=deal.title,
                       url=f"/deals/{deal.id}", last_post_id=0, posts_count=0)
            db.session.add(t)
            db.session.flush()
            db.session.execute(insert(Follower), [
                {"thread_id": t.id, "user_id": u.id, "following": True,
                 "last_read_post_id": 0, "created_at": now} for u in followers])
        db.session.commit()
        return big.id, [d.id for d in made[1:]], [u.username for u in people[FOLLOWERS:]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app, ids = build(folder)
        deals_needed = 2 * (args.rounds + 3)
        big, deals, mentioned = seed(app, ids, deals_needed)
        client = client_for(app, ids["seller"])
        plain_app, _ids = build(folder, plugins=(), create=False)
        plain = client_for(plain_app, ids["seller"])
        card = measure({"bare route": lambda: client.get(f"/_bench/bare/{big}"),
                        "deal card, 1,000-post thread": lambda: client.get(f"/deals/{big}"),
                        "deal card, plugin off": lambda: plain.get(f"/deals/{big}")},
                       rounds=args.rounds)
        page = client.get(f"/deals/{big}")
        assert page.status_code == 200 and b'id="discussion"' in page.data
        assert page.data.count(b'id="timeline"') == 0, "the timeline is shown twice"
        statements = len(capture_queries(app, lambda: client.get(f"/deals/{big}")))
        plain_statements = len(capture_queries(plain_app, lambda: plain.get(f"/deals/{big}")))
        url = f"sqlite:///{folder}/bench.db"
        with served(url, plugins=("discussions",)) as on, served(url) as off:
            get_on, get_off = on.client(app, ids["seller"]), off.client(plain_app, ids["seller"])
            http_cases = {"bare route": lambda: get_on(f"/_bench/bare/{big}"),
                          "empty signed-in page": lambda: get_on("/_bench/shell"),
                          "deal card, 1,000-post thread": lambda: get_on(f"/deals/{big}"),
                          "deal card, plugin off": lambda: get_off(f"/deals/{big}")}
            for name, fn in http_cases.items():
                response = fn()
                assert response.status_code == 200, (name, response.status_code)
            assert b'id="discussion"' in get_on(f"/deals/{big}").body
            http = measure(http_cases, rounds=args.rounds)

        from sqlalchemy import insert, select, update

        from conveyor import db
        from conveyor.models import Notification, User
        from conveyor.plugins.discussions.discussables import discussable
        from conveyor.plugins.discussions.models import Follower, Post, Thread
        from conveyor.plugins.discussions.services import create_post
        from conveyor.types import utcnow

        body = "Please check the contract, " + ", ".join(f"@{n}" for n in mentioned) + "."
        post_deals = iter(deals[: len(deals) // 2])
        bare_deals = iter(deals[len(deals) // 2:])

        def post() -> None:
            with app.test_request_context():
                from flask_login import login_user

                from conveyor.models import Deal

                seller = db.session.get(User, ids["seller"])
                login_user(seller)
                deal = db.session.get(Deal, next(post_deals))
                create_post(discussable("deals"), deal, seller, body)
                db.session.commit()

        with app.app_context():
            recipients = list(db.session.scalars(select(User.id).where(
                User.username.like("colleague%")).order_by(User.id)))

        def bare() -> None:
            with app.test_request_context():  # the same request set-up as the post
                from conveyor.models import Deal

                db.session.get(User, ids["seller"])
                deal_id = db.session.get(Deal, next(bare_deals)).id
                thread_id = db.session.scalar(select(Thread.id).where(
                    Thread.resource == "deals", Thread.record_id == deal_id))
                now = utcnow()
                post_id = db.session.execute(insert(Post).values(
                    thread_id=thread_id, author_id=ids["seller"], body=body, html=body,
                    mentions=recipients[FOLLOWERS:], created_at=now)).inserted_primary_key[0]
                db.session.execute(insert(Follower), [
                    {"thread_id": thread_id, "user_id": uid, "following": True,
                     "last_read_post_id": 0, "created_at": now}
                    for uid in recipients[FOLLOWERS:]])
                db.session.execute(update(Thread).where(Thread.id == thread_id).values(
                    last_post_id=post_id, last_post_at=now, posts_count=Thread.posts_count + 1))
                db.session.execute(insert(Notification), [
                    {"user_id": uid, "message": "Seller posted on Deal.", "url": "/deals/1",
                     "kind": "discussions.post", "created_at": now} for uid in recipients])
                db.session.commit()

        writes = measure({"bare insert of the same rows": bare,
                          "post: 5 mentions, 50 followers": post},
                         rounds=args.rounds)
        with app.app_context():
            notified = db.session.scalar(select(Notification.id).order_by(
                Notification.id.desc()))
            assert notified, "no notifications were written"

    def med(t: Any) -> float:
        return statistics.median(t.samples_ms)

    card_ratio = med(http["deal card, 1,000-post thread"]) / med(http["bare route"])
    plain_ratio = med(http["deal card, plugin off"]) / med(http["bare route"])
    shell_ratio = med(http["empty signed-in page"]) / med(http["bare route"])
    in_card = med(card["deal card, 1,000-post thread"]) / med(card["bare route"])
    in_plain = med(card["deal card, plugin off"]) / med(card["bare route"])
    post_ratio = med(writes["bare insert of the same rows"]) / med(
        writes["post: 5 mentions, 50 followers"])
    goal = f"≤ {CARD_GOAL}× — {'met' if card_ratio <= CARD_GOAL else 'MISSED'}"
    rows = [
        ["bare route", "HTTP", f"{med(http['bare route']):.2f}", "1.00", "", 1],
        ["empty signed-in page (layout only)", "HTTP",
         f"{med(http['empty signed-in page']):.2f}", f"{shell_ratio:.2f}", "(context)", ""],
        ["deal card, 1,000-post thread (first page)", "HTTP",
         f"{med(http['deal card, 1,000-post thread']):.2f}", f"{card_ratio:.2f}", goal,
         statements],
        ["the same deal card with the discussions plugin off", "HTTP",
         f"{med(http['deal card, plugin off']):.2f}", f"{plain_ratio:.2f}",
         "(context: the core's card alone)", plain_statements],
        ["bare route", "in-process", f"{med(card['bare route']):.2f}", "1.00", "", 1],
        ["deal card, 1,000-post thread (first page)", "in-process",
         f"{med(card['deal card, 1,000-post thread']):.2f}", f"{in_card:.2f}",
         "(the app's own work alone)", statements],
        ["the same deal card with the discussions plugin off", "in-process",
         f"{med(card['deal card, plugin off']):.2f}", f"{in_plain:.2f}",
         "(context: the core's card alone)", plain_statements],
        ["bare insert of the same rows", "in-process",
         f"{med(writes['bare insert of the same rows']):.2f}", "", "", ""],
        ["post: 5 mentions, 50 followers", "in-process",
         f"{med(writes['post: 5 mentions, 50 followers']):.2f}",
         f"bare / post = {post_ratio:.2f}",
         f"≥ {POST_GOAL} — {'met' if post_ratio >= POST_GOAL else 'MISSED'}", ""],
    ]
    note = ("HTTP: gunicorn -w 1 (sync worker) on 127.0.0.1 serving the same app and database, "
            "one request at a time with a new connection each — the measure of the goal, as for "
            "the core pages (bench_core). In-process: Flask's test client, the app's own work "
            "alone (both sides lose the same fixed cost, so the ratio is stricter; the signed-in "
            "layout alone is several times the bare route there). Every row is timed "
            "round-robin with its reference in the same rounds. The card's thread panel merges "
            "the deal's timeline, so the card shows no timeline box of its own.")
    path = write_results("discussions", {"database": "SQLite (temporary file)",
                                         "rounds": args.rounds},
                         ["case", "measured", "median ms", "ratio to the bare route", "goal",
                          "statements"], rows, extra_md=note,
                         extra_json={"card_ratio": card_ratio, "post_ratio": post_ratio,
                                     "card_plugin_off_ratio": plain_ratio,
                                     "card_in_process_ratio": in_card,
                                     "samples_ms": {k: v.samples_ms for k, v in http.items()}})
    print(path.read_text())


if __name__ == "__main__":
    main()
