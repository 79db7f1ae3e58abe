"""Demo rows: the seller, the assistant and the lawyer discussing contracts on a few deals."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, url_for
from sqlalchemy import select

from conveyor import in_company_language
from conveyor.i18n import _l
from conveyor.models import Deal
from conveyor.types import utcnow

from .markdown import render
from .models import Follower, Post, Thread

SCRIPT = [
    ("seller", None, _l("@assistant could you prepare the **contract** draft? The customer "
                        "wants delivery in two stages.")),
    ("assistant", 0, _l("Draft is ready, I used the standard template. @lawyer please check "
                        "the penalty clause.")),
    ("lawyer", 0, _l("Checked. Cap the penalty at *10%* of the amount and it is fine.")),
    ("seller", None, _l("Sent to the customer, waiting for their signature.")),
]


def seed(session: Any, users: dict[str, Any], rng: Any) -> None:
    seller = users.get("seller")
    if seller is None:
        return
    deals = list(session.scalars(select(Deal).where(Deal.owner_id == seller.id)
                                 .order_by(Deal.id).limit(3)))
    now = utcnow()
    for n, deal in enumerate(deals):
        with current_app.test_request_context():
            url = url_for("deals.card", deal_id=deal.id)
        start = now - timedelta(days=3 * (n + 1), hours=rng.randint(0, 8))
        thread = Thread(resource="deals", record_id=deal.id, title=deal.title[:200], url=url,
                        last_post_id=0, posts_count=0, created_at=start)
        session.add(thread)
        session.flush()
        posts: list[Post] = []
        people: set[int] = set()
        for i, (who, parent, text) in enumerate(SCRIPT):
            body = in_company_language(text)
            author = users.get(who)
            if author is None:
                continue
            people.add(author.id)
            post = Post(thread_id=thread.id, author_id=author.id, body=body, html=render(body),
                        reply_to_id=posts[parent].id if parent is not None and posts else None,
                        mentions=[], created_at=start + timedelta(hours=2 * i))
            session.add(post)
            session.flush()
            posts.append(post)
        if posts:
            thread.last_post_id = posts[-1].id
            thread.last_post_at = posts[-1].created_at
            thread.posts_count = len(posts)
        for uid in people:
            session.add(Follower(thread_id=thread.id, user_id=uid, following=True,
                                 last_read_post_id=thread.last_post_id if uid == seller.id
                                 else 0, created_at=start))
