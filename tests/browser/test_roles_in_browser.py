"""Each role signs in through the real login form and sees only its own modules."""
from __future__ import annotations

import pytest

from conveyor.permissions import permissions_of
from conveyor.role_layers import ROLE_NAMES


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_role_sees_only_its_modules(page, live_server, live_app, sign_in, role):
    from conveyor.extensions import db
    from conveyor.models import User

    sign_in(role)
    shown = set(page.eval_on_selector_all(".mainnav a[data-nav]",
                                          "els => els.map(e => e.dataset.nav)"))
    with live_app.test_request_context():
        user = db.session.get(User, live_app.config["TEST_USER_IDS"][role])
        perms = permissions_of(user)
    state = live_app.extensions["conveyor"]
    expected = {"home"} | {n.id for n in state.nav_items if n.permission in perms}
    assert shown == expected
    hidden = [n for n in state.nav_items if n.permission not in perms]
    if role == "admin":
        assert not hidden
        return
    assert hidden, f"{role} should lack some module"
    with live_app.test_request_context():
        from flask import url_for

        url = url_for(hidden[0].endpoint)
    response = page.goto(live_server + url)
    assert response.status == 403
