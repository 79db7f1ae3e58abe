"""No page overflows the screen or its cards, at 1366 px and at 390 px (a seller's phone).

The demo company (every plugin, records of every kind) is walked as every role: the pages each
role reaches by following links (one page of each kind: ``/deals/7`` stands for every deal card;
conveyor.page_walk finds them with the test client) are loaded in real Chromium and measured at
both widths. A page fails when the document is wider than the window, or when any visible
element's content sticks out of its box (``scrollWidth > clientWidth`` with ``overflow-x``
visible); boxes that scroll by themselves (the tables' ``.table-wrap``, the board) may hold
wider content — except a home widget's table on a phone, which must fit (stack or wrap). English: every role's every page. Russian and Chinese, whose words run longer or
break differently: every kind of page at least once (the first role that reaches it), and the
pages a seller lives in between visits — home, deal and customer cards, board, activities — for
every role. The phone menu is opened and measured too. One browser, one context per role.
Set CONVEYOR_LAYOUT_SHOTS=DIR to keep screenshots of each role's home and cards.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conveyor.page_walk import page_kind, seed_demo_app, walk
from conveyor.role_layers import ROLE_NAMES
from conveyor.testing import client_as

ALL_PLUGINS = ["leads", "calls", "groups", "funnel", "relationships", "documents", "approvals",
               "discussions", "activities"]
WIDE, PHONE = 1366, 390
LANGUAGES = ["en", "ru", "zh_Hans"]
HTML_LANG = {"en": "en", "ru": "ru", "zh_Hans": "zh-CN"}
# Checked for every role in every language, not once per kind.
# The chart pages (funnel, five numbers, targets, relationships) too: their bars and labels
# must fit a phone in every language.
EVERYDAY = {"/", "/deals/N", "/customers/N", "/deals/board", "/activities/", "/activities/N",
            "/calls/", "/leads/N", "/funnel/", "/funnel/five", "/funnel/targets",
            "/relationships/"}
# Pages the walk reaches only under another query (it keys pages by path): the calendar's
# month (seven columns on a phone) and the header search's results (it is a form, not a link).
MONTH, RESULTS = "/activities/calendar (month)", "/search/ (results)"
EVERYDAY |= {MONTH, RESULTS}
SHOTS_OF = {"/", "/deals/N", "/customers/N", "/deals/board", "/activities/", "/funnel/",
            "/funnel/five", "/funnel/targets", "/relationships/", "/search/"}

# What sticks out: the document sideways, and every visible element whose content is wider than
# its own box while that box does not scroll (overflow-x: visible). Form controls scroll inside
# by themselves, a drawing (SVG) clips its own content; a closed <details> (the phone menu) hides
# its content.
OVERFLOW_JS = """() => {
  const found = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1)
    found.push(`the page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  const path = e => { const parts = []; for (let n = e; n && n !== document.body && parts.length < 4; n = n.parentElement) parts.unshift(name(n)); return parts.join(' > '); };
  // On a phone a home widget is read down, never scrolled sideways: a table of its that only
  // fits by scrolling its .table-wrap needs to stack (table.stack-on-phone) or wrap instead.
  if (window.innerWidth <= 600)
    for (const e of document.querySelectorAll('.widget .table-wrap'))
      if (e.checkVisibility() && e.scrollWidth > e.clientWidth + 1)
        found.push(`${path(e)} scrolls sideways: ${e.scrollWidth}px in ${e.clientWidth}px: ` +
                   JSON.stringify((e.innerText || '').trim().slice(0, 60)));
  for (const e of document.body.querySelectorAll('*')) {
    if (['SELECT', 'INPUT', 'TEXTAREA', 'OPTION'].includes(e.tagName) || e.clientWidth === 0) continue;
    if (e instanceof SVGElement && e.ownerSVGElement) continue;  // inside a drawing: it clips
    if (!e.checkVisibility()) continue;
    const style = getComputedStyle(e);
    if (style.display === 'inline' || style.overflowX !== 'visible') continue;
    if (e.scrollWidth > e.clientWidth + 1)
      found.push(`${path(e)} holds ${e.scrollWidth}px in ${e.clientWidth}px: ` +
                 JSON.stringify((e.innerText || '').trim().slice(0, 60)));
  }
  return found.slice(0, 6);
}"""


@pytest.fixture
def live_app(make_app: Any) -> Any:
    """The demo company instead of the bare test users: lists and cards are filled."""
    app = make_app(plugins=ALL_PLUGINS, seed=False)
    seed_demo_app(app)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600  # stylesheets from the cache, not a 304 a page
    return app


def _sign_in(page: Any, base: str, role: str, lang: str) -> None:
    """Through the sign-in page, choosing its language there (its header's language link)."""
    page.goto(f"{base}/login")
    page.click(f"header a[hreflang={lang}]")
    assert page.evaluate("document.documentElement.lang") == HTML_LANG[lang]
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    # The language chosen on the sign-in page is still the page's after signing in.
    assert page.evaluate("document.documentElement.lang") == HTML_LANG[lang]


def _switch_language(page: Any, lang: str) -> None:
    page.set_viewport_size({"width": WIDE, "height": 900})
    page.select_option("form.language select", lang)
    page.click("form.language button[type=submit]")
    page.wait_for_load_state()


def test_no_page_overflows_at_1366_or_390_px(browser: Any, live_server: str, live_app: Any,
                                            tmp_path: Path) -> None:
    shots = Path(os.environ.get("CONVEYOR_LAYOUT_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    pages = {role: walk(client_as(live_app, role), every_link=False).pages
             for role in ROLE_NAMES}
    for found in pages.values():  # the walk keys pages by path: these differ by their query
        if "/activities/calendar" in found:
            found[MONTH] = "/activities/calendar?view=month"
        found[RESULTS] = "/search/?q=%D0%9E%D0%9E%D0%9E"  # "ООО": many customers, contacts
    problems: list[str] = []
    done: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
    loads = 0

    def measure(page: Any, role: str, lang: str, width: int, what: str) -> None:
        found = page.evaluate(OVERFLOW_JS)
        kind = page_kind(page.url)
        if found:
            shot = shots / f"overflow-{role}-{lang}-{width}-{len(problems)}.png"
            page.screenshot(path=str(shot), full_page=True)
            problems.extend(f"{role} {lang} {width}px {what}: {f} ({shot.name})" for f in found)
        elif os.environ.get("CONVEYOR_LAYOUT_SHOTS") and kind in SHOTS_OF and "menu" not in what:
            page.screenshot(path=str(shots / f"{role}-{lang}-{width}{kind.replace('/', '_')}.png"),
                            full_page=True)

    for number, role in enumerate(ROLE_NAMES):
        assert len(pages[role]) > 5, (role, pages[role])
        context = browser.new_context(viewport={"width": WIDE, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        first = LANGUAGES[number % len(LANGUAGES)]
        _sign_in(page, live_server, role, first)
        for lang in [first] + [x for x in LANGUAGES if x != first]:
            if lang != first:
                _switch_language(page, lang)
            width = page.viewport_size["width"]
            for kind, url in pages[role].items():
                if lang != "en" and kind in done[lang] and kind not in EVERYDAY:
                    continue
                done[lang].add(kind)
                response = page.goto(live_server + url)
                loads += 1
                assert response is not None and response.status == 200, (role, url)
                for _ in range(2):  # measured at this width, then at the other
                    measure(page, role, lang, width, url)
                    width = PHONE if width == WIDE else WIDE
                    page.set_viewport_size({"width": width, "height": 900})
            # The phone menu, opened.
            page.set_viewport_size({"width": PHONE, "height": 900})
            page.goto(live_server + "/")
            page.click("details.menu > summary")
            assert page.is_visible("a[data-nav=home]")
            measure(page, role, lang, PHONE, "/ (menu open)")
            if os.environ.get("CONVEYOR_LAYOUT_SHOTS"):
                page.screenshot(path=str(shots / f"{role}-{lang}-{PHONE}-menu.png"))
            page.set_viewport_size({"width": WIDE, "height": 900})
        context.close()
    assert loads > 200
    assert not problems, f"{len(problems)} overflows:\n" + "\n".join(problems)
