"""Bad input to every write and every dated filter: a 400/422 with a field message, never a 500,
nothing written. The writes and filters are found in the OpenAPI document of an app with every
built-in plugin, so a plugin's new endpoint is covered without being listed here."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask, url_for
from sqlalchemy import func, inspect, select

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Customer, Stage, User
from conveyor.testing import client_as, path_args, token_headers

from .test_route_permissions import skipped

ALL_PLUGINS = ["leads", "calls", "groups", "funnel", "relationships", "documents", "approvals",
               "discussions", "activities"]
HUGE = "1" + "0" * 5000  # past Python's 4300-digit limit
LONG = "9" * 40  # parses, overflows every column
DEEP = ["[" * 50_000 + "]" * 50_000, '{"a":' * 20_000 + "1" + "}" * 20_000]
BAD_DAYS = ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59Z"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: Any) -> Any:
    from conveyor.app import create_app
    from conveyor.schema import create_tables
    from conveyor.testing import seed_test_data

    path = tmp_path_factory.mktemp("bad-input")
    app = create_app(config={"database_url": f"sqlite:///{path}/db.sqlite", "secret_key": "t",
                             "testing": True, "ratelimit_enabled": False},
                     plugins=ALL_PLUGINS, instance_path=str(path / "instance"))
    create_tables(app)
    app.config["TEST_USER_IDS"] = seed_test_data(app)
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        customer = crm.create_customer({"name": "Acme"}, admin)
        db.session.flush()
        stage = db.session.scalar(select(Stage).order_by(Stage.position))
        crm.create_deal({"title": "Deal", "customer_id": customer.id, "stage": stage}, admin)
        db.session.commit()
    yield app, token_headers(app, "admin")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        present = set(inspect(db.engine).get_table_names()) - {"api_tokens"}
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in db.metadata.sorted_tables if t.name in present}


def body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def writes(app: Flask) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    found = []
    for path, operations in spec["paths"].items():
        for method in ("post", "put", "patch"):
            if method in operations and "requestBody" in operations[method]:
                url = re.sub(r"\{[^}]+\}", "1", path)  # ids of the seeded records
                found.append((method, url, body_schema(spec, operations[method])))
    return found


def bodies(schema: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(label, raw JSON, the field its message must name — None: a malformed body)."""
    props = schema.get("properties", {})
    texts = [n for n, p in props.items() if p.get("type") == "string" and not p.get("readOnly")]
    numbers = [n for n, p in props.items() if p.get("type") in ("integer", "number")
               and not p.get("readOnly")]
    out: list[tuple[str, str, str | None]] = []
    for name in texts[:3]:
        out.append((f"surrogate in {name}", f'{{"{name}": "a\\ud800b"}}', name))
    out.append(("surrogate in a key", '{"x\\udfff": "1"}', None))
    for name in numbers[:3]:
        out.append((f"huge {name}", f'{{"{name}": {HUGE}}}', name))
        out.append((f"long {name}", f'{{"{name}": {LONG}}}', name))
    out += [("deep list", DEEP[0], None), ("deep object", DEEP[1], None)]
    return out


def test_every_json_write_refuses_bad_bodies(world: Any) -> None:
    app, headers = world
    client = app.test_client()
    wrong, refused = [], 0
    before = row_counts(app)
    for method, url, schema in writes(app):
        for label, raw, field in bodies(schema):
            response = client.open(url, method=method.upper(), data=raw,
                                   content_type="application/json", headers=headers)
            status = response.status_code
            if status == 404 and "/public/" in url:
                continue  # no form with that key: refused before the body is read
            payload = response.get_json(silent=True) or {}
            if status not in (400, 422):
                wrong.append(f"{method} {url} {label}: {status}")
                continue
            refused += 1
            errors = payload.get("errors", {})
            located = errors.get("json", errors.get("form", errors))
            if field is not None and status == 422 and field not in json.dumps(located):
                wrong.append(f"{method} {url} {label}: no message for {field}: {payload}")
    assert refused >= 50
    assert not wrong, "\n".join(wrong)
    assert row_counts(app) == before


def test_surrogates_and_huge_numbers_name_the_field(world: Any) -> None:
    app, headers = world
    client = app.test_client()
    response = client.post("/api/v1/customers", data='{"name": "\\ud800", "region": "x"}',
                           content_type="application/json", headers=headers)
    assert response.status_code == 422
    assert "name" in response.get_json()["errors"]["json"]
    response = client.post("/api/v1/deals", data=f'{{"title": "T", "customer_id": {HUGE}}}',
                           content_type="application/json", headers=headers)
    assert response.status_code == 422
    assert "customer_id" in response.get_json()["errors"]["json"]
    deep = client.post("/api/v1/customers", data=DEEP[1], content_type="application/json",
                       headers=headers)
    assert deep.status_code == 400 and "nested too deeply" in deep.get_json()["message"]
    pair = client.post("/api/v1/customers", data='{"name": "\\ud83d\\ude00 Smile"}',
                       content_type="application/json", headers=headers)
    assert pair.status_code == 201  # a proper surrogate pair is an emoji, and welcome


def test_the_public_form_refuses_them_too(world: Any) -> None:
    app, _ = world
    from conveyor.plugins.leads.models import LeadForm

    with app.app_context():
        db.session.add(LeadForm(key="bad-input", name="Web", fields=[
            {"name": "name", "required": False}, {"name": "email", "required": True}]))
        db.session.commit()
    client = app.test_client()
    before = row_counts(app)
    for raw, code in (('{"email": "a@b.co", "name": "\\ud800"}', 422),
                      (f'{{"email": "a@b.co", "name": {HUGE}}}', 422),
                      ("[" * 5000 + "]" * 5000, 400)):  # within the form's 16 kB
        response = client.post("/public/leads/bad-input", data=raw,
                               content_type="application/json")
        assert response.status_code == code, (raw[:40], response.get_json())
        assert response.is_json
    assert row_counts(app) == before


def dated_filters(app: Flask) -> list[tuple[str, str]]:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    return [(path, p["name"]) for path, ops in spec["paths"].items() if "get" in ops
            and "{" not in path for p in ops["get"].get("parameters", [])
            if p.get("in") == "query" and p.get("schema", {}).get("format") in ("date",
                                                                                 "date-time")]


def test_every_dated_api_filter_refuses_the_calendars_edges(world: Any) -> None:
    app, headers = world
    client = app.test_client()
    filters = dated_filters(app)
    assert {"/api/v1/funnel", "/api/v1/funnel/five-numbers", "/api/v1/relationships/transitions",
            "/api/v1/calls/stats"} <= {
        p for p, _n in filters}
    declared: dict[str, list[str]] = {}
    for path, name in filters:
        declared.setdefault(path, []).append(name)
    wrong = []
    for path, name in filters:
        for day in BAD_DAYS:
            for query in ({name: day}, dict.fromkeys(declared[path], day)):
                response = client.get(path, query_string=query, headers=headers)
                payload = response.get_json(silent=True) or {}
                if response.status_code not in (400, 422):
                    wrong.append(f"{path}?{query}: {response.status_code}")
                elif response.status_code == 422 and not payload.get("errors") and not \
                        payload.get("message"):
                    wrong.append(f"{path}?{query}: 422 without a message")
    assert not wrong, "\n".join(wrong)


def test_every_page_takes_the_calendars_edges_as_filters(world: Any) -> None:
    app, _ = world
    client = client_as(app, "admin")
    names = ["from", "to", "start", "end", "period_start", "created_from", "created_to",
             "date", "day", "month"]
    with app.test_request_context():
        urls = [url_for(rule.endpoint, **path_args(rule))
                for rule in app.url_map.iter_rules() if "GET" in rule.methods
                and not skipped(rule.endpoint) and not rule.rule.startswith("/api/")]
    wrong = []
    for url in urls:
        for day in BAD_DAYS:
            response = client.get(url, query_string={n: day for n in names})
            if response.status_code >= 500:
                wrong.append(f"{url} {day}: {response.status_code}")
    assert len(urls) > 30
    assert not wrong, "\n".join(wrong)


def test_a_form_with_an_edge_date_is_a_field_error(world: Any) -> None:
    app, _ = world
    client = client_as(app, "admin", csrf=True)
    with app.app_context():
        customer_id = db.session.scalar(select(func.min(Customer.id)))
    before = row_counts(app)
    response = client.post("/deals/new", data={
        "title": "Far", "customer_id": customer_id, "amount": "1", "currency": "USD",
        "expected_close": "9999-12-31"})
    assert response.status_code == 400
    assert b"Use a date between 1900-01-01 and 2999-12-31." in response.data
    assert row_counts(app) == before
