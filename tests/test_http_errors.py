"""Errors the HTTP way: every 405 names the allowed methods in ``Allow`` (pages and API)."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, url_for

from conveyor.testing import client_as, path_args, token_headers

from .test_route_permissions import PLUGIN_SETS, skipped


@pytest.mark.parametrize("plugins", list(PLUGIN_SETS), ids=list(PLUGIN_SETS))
def test_every_405_carries_allow(make_app: Any, plugins: str) -> None:
    app: Flask = make_app(plugins=PLUGIN_SETS[plugins])
    client = client_as(app, "admin")
    bearer = token_headers(app, "admin")
    wrong, tried = [], 0
    with app.test_request_context():
        rules = [(rule, url_for(rule.endpoint, **path_args(rule)))
                 for rule in app.url_map.iter_rules() if not skipped(rule.endpoint)]
    for rule, url in rules:
        method = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in rule.methods)
        response = client.open(url, method=method,
                               headers=bearer if url.startswith("/api/") else {})
        if response.status_code != 405:
            continue  # another rule on the same URL takes that method
        tried += 1
        allow = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
        if not (rule.methods - {"OPTIONS"}) <= allow:
            wrong.append(f"{method} {url}: Allow={response.headers.get('Allow')!r}")
    assert tried >= 20
    assert not wrong, "\n".join(wrong)
