"""Every documented query parameter accepts a valid value: each GET of the OpenAPI document is
called with one parameter at a time set to a valid example (an id of 1, a date, an enum's first
value) and must not answer 422 (``GET /api/v1/leads?owner_id=N`` once did) nor 5xx."""
from __future__ import annotations

from datetime import date
from typing import Any

from conveyor.testing import token_headers

ALL_PLUGINS = ["leads", "calls", "groups", "funnel", "relationships"]


def example(schema: dict[str, Any]) -> str | None:
    if "example" in schema:  # the operation's own documented example
        return str(schema["example"])
    if "enum" in schema:
        return str(schema["enum"][0])
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "integer":
        return str(max(1, schema.get("minimum", 1)))
    if kind == "number":
        return "1"
    if kind == "boolean":
        return "true"
    if kind == "string" and fmt == "date":  # today: inside any default period, from or to
        return date.today().isoformat()
    if kind == "string" and fmt == "date-time":
        return date.today().isoformat() + "T00:00:00Z"
    if kind == "string":  # "a", or as many a's as the shortest length allowed (a currency: "aaa")
        return "a" * max(1, schema.get("minLength", 1))
    return None


def test_each_query_parameter_accepts_a_valid_value(make_app: Any) -> None:
    app = make_app(plugins=ALL_PLUGINS)
    headers = token_headers(app, "admin")
    client = app.test_client()
    spec = client.get("/api/v1/openapi.json").get_json()
    wrong, tried = [], 0
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if not get or "{" in path:
            continue
        # Required parameters (the search's q) come along with each one tried.
        required = {p["name"]: example(p.get("schema", {})) for p in get.get("parameters", [])
                    if p.get("in") == "query" and p.get("required")}
        for param in get.get("parameters", []):
            if param.get("in") != "query":
                continue
            value = example(param.get("schema", {}))
            if value is None:
                continue
            tried += 1
            response = client.get(path, query_string={**required, param["name"]: value},
                                  headers=headers)
            if response.status_code == 422 or response.status_code >= 500:
                wrong.append(f"{path}?{param['name']}={value}: {response.status_code} "
                             f"{response.get_json()}")
    assert tried >= 20
    assert not wrong, "\n".join(wrong)
