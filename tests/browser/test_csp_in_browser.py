"""The Content-Security-Policy as a browser applies it: no page of the admin's (every module
enabled) makes Chromium refuse a script, a style or a frame, and a page cannot be framed."""
from __future__ import annotations

from typing import Any

PAGES = ["/", "/customers/", "/deals/", "/deals/board", "/admin/", "/admin/users",
         "/admin/roles", "/admin/stages", "/admin/audit", "/profile/", "/notifications/",
         "/leads/", "/calls/", "/groups/", "/funnel/", "/relationships/"]


def test_no_page_breaks_the_policy(page: Any, live_server: str, sign_in: Any) -> None:
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    sign_in("admin")
    for path in PAGES:
        response = page.goto(live_server + path)
        assert response.status == 200, path
        assert "nonce-" in response.headers["content-security-policy"]
    assert not refused, "\n".join(refused)


def test_inline_script_without_the_nonce_is_refused(page: Any, live_server: str,
                                                    sign_in: Any) -> None:
    """The policy is really in force: an injected inline script does not run."""
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text))
    sign_in("admin")
    page.goto(live_server + "/")
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__ran = true';
                             document.body.appendChild(s); }""")
    assert page.evaluate("() => window.__ran === true") is False
    assert any("Content Security Policy" in text for text in refused)


def test_pages_cannot_be_framed(page: Any, live_server: str, sign_in: Any) -> None:
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text))
    sign_in("admin")
    page.set_content(f'<iframe src="{live_server}/"></iframe>')
    page.wait_for_timeout(1000)
    frame = page.frames[-1]
    assert "Conveyor" not in (frame.content() if frame != page.main_frame else "")
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in refused)
