"""Walking the screens a signed-in person reaches by following links, for tests.

A walk starts at the home page and follows every ``<a href>`` on the site, as the person would:
each link is requested once (its status is what the person would get on clicking it), and the
links of the first page of each kind are followed further (a kind: the path with its numbers
taken out, so ``/deals/7`` and ``/deals/9`` are one kind). The link test asserts that no link a
role is shown answers 403 or 404; the browser layout test loads one page of each kind per role.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

# Not screens: signing out, the API, files, downloads and feeds (their status is still checked).
NOT_A_SCREEN = re.compile(r"^/(api/|static/|logout)|/static/|\.(csv|ics|docx|pdf|xlsx|json)$"
                          r"|[?&]format=|/files/|/download")


def page_kind(url: str) -> str:
    """The kind of page an address shows: its path with every number replaced by ``N``."""
    return re.sub(r"\d+", "N", urlsplit(url).path)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links_in(html: str, page_url: str) -> list[str]:
    """The same-site addresses (path and query) the ``<a href>`` links of a page lead to."""
    parser = _Links()
    parser.feed(html)
    found: list[str] = []
    for href in parser.hrefs:
        target = urlsplit(urljoin("http://site" + page_url, href.strip()))
        if target.scheme != "http" or target.netloc != "site":
            continue  # mailto:, tel:, other sites
        found.append(urlunsplit(("", "", target.path, target.query, "")))
    return found


@dataclass
class Walk:
    """What a walk saw: the status of every link (and where it was first shown), and the first
    address of each kind of page that answered 200 with HTML, in the order found."""

    status: dict[str, int] = field(default_factory=dict)
    shown_on: dict[str, str] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)

    def broken(self, statuses: tuple[int, ...] = (403, 404)) -> list[str]:
        return [f"{url} answers {code} (linked from {self.shown_on[url]})"
                for url, code in self.status.items() if code in statuses]


def walk(client: Any, start: str = "/", expand: int = 1, every_link: bool = True,
         max_requests: int = 5000) -> Walk:
    """Follow every link from ``start`` with ``client`` (a signed-in Flask test client), reading
    the links of up to ``expand`` pages of each kind. Redirects are links too: their target is
    requested in turn. ``every_link=False`` requests only the first link of each kind: enough to
    find one page of every kind, at a fraction of the requests."""
    expanded: dict[str, int] = {}
    kinds: set[str] = {page_kind(start)}
    seen = Walk()
    queue: deque[str] = deque([start])
    seen.shown_on[start] = "(start)"
    while queue and len(seen.status) < max_requests:
        url = queue.popleft()
        response = client.get(url)
        seen.status[url] = response.status_code
        follow: list[str] = []
        if response.status_code in (301, 302, 303, 307, 308):
            follow = [urlunsplit(("", "", *urlsplit(urljoin(
                "http://site" + url, response.headers.get("Location", "")))[2:4], ""))]
        elif response.status_code == 200 and response.mimetype == "text/html" and \
                not NOT_A_SCREEN.search(url) and expanded.get(page_kind(url), 0) < expand:
            expanded[page_kind(url)] = expanded.get(page_kind(url), 0) + 1
            seen.pages.setdefault(page_kind(url), url)
            follow = links_in(response.get_data(as_text=True), url)
        response.close()
        for link in follow:
            if link in seen.shown_on or not every_link and page_kind(link) in kinds:
                continue
            kinds.add(page_kind(link))
            seen.shown_on[link] = url
            queue.append(link)
    return seen


def seed_demo_app(app: Any, customers: int = 40) -> dict[str, int]:
    """Fill a freshly made app (``make_app(seed=False)``) with the demo company, smaller: every
    role's user (password ``demo``) and records of every kind, so lists and cards are filled.
    Returns the user ids by username and keeps them as ``TEST_USER_IDS`` for ``client_as``."""
    from sqlalchemy import select

    from .demo import seed_demo
    from .extensions import db
    from .models import User

    with app.app_context():
        seed_demo(app, db.session, customers=customers)
        ids = {u.username: u.id for u in db.session.scalars(select(User))}
    app.config["TEST_USER_IDS"] = ids
    return ids
