"""Discussions (issue 13, "Speed"): a deal card with a 1,000-post thread, and a post that
mentions 5 users and notifies 50 followers.

    python bench/bench_discussions.py [--rounds 30]

In-process (Flask's test client and the plugin's service, the app's own work alone), SQLite
in a temporary folder:

* **card**: ``GET /deals/<id>`` as its seller, whose thread holds 1,000 posts (300 of them
  with a reply), against ``/_bench/bare/<id>`` (one primary-key SELECT) in the same rounds.
  Goal: ≤ 3×. The same card from an app without the plugin, on the same database, is timed
  alongside: the core's card alone is the floor the thread panel adds to.
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

from common import add_bare_route, client_for, measure, write_results  # noqa: E402

CARD_GOAL = 3.0
POST_GOAL = 0.5
FOLLOWERS = 50
MENTIONED = 5


def build(folder: str, plugins: tuple[str, ...] = ("discussions",), create: bool = True
          ) -> Any:
    from conveyor.app import create_app
    from conveyor.schema import create_tables
    from conveyor.testing import seed_test_data

    app = create_app(config={"database_url": f"sqlite:///{folder}/bench.db", "secret_key": "b",
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

    card_ratio = med(card["deal card, 1,000-post thread"]) / med(card["bare route"])
    plain_ratio = med(card["deal card, plugin off"]) / med(card["bare route"])
    post_ratio = med(writes["bare insert of the same rows"]) / med(
        writes["post: 5 mentions, 50 followers"])
    rows = [
        ["bare route", f"{med(card['bare route']):.2f}", "", ""],
        ["deal card, 1,000-post thread (first page)",
         f"{med(card['deal card, 1,000-post thread']):.2f}", f"{card_ratio:.2f}× the bare route",
         f"≤ {CARD_GOAL}× — {'met' if card_ratio <= CARD_GOAL else 'MISSED'}"],
        ["the same deal card with the discussions plugin off",
         f"{med(card['deal card, plugin off']):.2f}", f"{plain_ratio:.2f}× the bare route",
         "(context: the core's card alone)"],
        ["bare insert of the same rows", f"{med(writes['bare insert of the same rows']):.2f}",
         "", ""],
        ["post: 5 mentions, 50 followers", f"{med(writes['post: 5 mentions, 50 followers']):.2f}",
         f"bare / post = {post_ratio:.2f}",
         f"≥ {POST_GOAL} — {'met' if post_ratio >= POST_GOAL else 'MISSED'}"],
    ]
    path = write_results("discussions", {"database": "SQLite (temporary file)",
                                         "rounds": args.rounds, "mode": "in-process"},
                         ["case", "median ms", "ratio", "goal"], rows,
                         extra_json={"card_ratio": card_ratio, "post_ratio": post_ratio,
                                     "card_plugin_off_ratio": plain_ratio})
    print(path.read_text())


if __name__ == "__main__":
    main()
