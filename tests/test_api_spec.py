"""The OpenAPI document holds together, the docs page renders it, stages/pipelines read."""
from __future__ import annotations

import re
from typing import Any

PATHS = {
    "/api/v1/customers": {"get", "post"},
    "/api/v1/customers/{customer_id}": {"get", "patch", "delete"},
    "/api/v1/customers/{customer_id}/contacts": {"get", "post"},
    "/api/v1/contacts/{contact_id}": {"get", "patch", "delete"},
    "/api/v1/deals": {"get", "post"},
    "/api/v1/deals/{deal_id}": {"get", "patch", "delete"},
    "/api/v1/deals/{deal_id}/stage": {"post"},
    "/api/v1/deals/{deal_id}/history": {"get"},
    "/api/v1/pipelines": {"get"},
    "/api/v1/pipelines/{pipeline_id}": {"get"},
    "/api/v1/stages": {"get"},
    "/api/v1/stages/{stage_id}": {"get"},
    "/api/v1/users/me": {"get"},
    "/api/v1/notifications": {"get"},
    "/api/v1/notifications/{note_id}/read": {"post"},
}
METHODS = {"get", "post", "put", "patch", "delete"}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_openapi_document_structure(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "Conveyor"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"][
            "securitySchemes"]["bearerAuth"]["description"]}
    assert spec["security"] == [{"bearerAuth": []}]
    for path, methods in PATHS.items():
        assert path in spec["paths"], path
        assert set(spec["paths"][path]) & METHODS == methods, path
    tags = {t["name"] for t in spec["tags"]}
    for path, item in spec["paths"].items():
        params = [p["name"] for p in item.get("parameters", [])]
        for name in re.findall(r"{(\w+)}", path):
            assert name in params, (path, name)
        for method in set(item) & METHODS:
            op = item[method]
            assert op["responses"], (path, method)
            assert any(code.startswith("2") for code in op["responses"]), (path, method)
            assert op.get("summary"), (path, method)
            assert set(op["tags"]) <= tags
    for ref in refs(spec):  # every reference resolves
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_spec_documents_the_rules_clients_rely_on(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["Deal"]["additionalProperties"] is True  # plugin fields
    assert schemas["DealCreate"]["additionalProperties"] is False  # unknown fields refused
    assert set(schemas["DealCreate"]["required"]) == {"customer_id", "title", "amount"}
    assert schemas["CustomerCreate"]["properties"]["name"]["maxLength"] == 200
    assert "version" in schemas["DealPatch"]["properties"]
    patch = spec["paths"]["/api/v1/deals/{deal_id}"]["patch"]["responses"]
    assert {"409", "428", "422", "404"} <= set(patch)
    ident = spec["paths"]["/api/v1/deals/{deal_id}"]["parameters"][0]["schema"]
    assert ident["maximum"] == 2147483647


def test_docs_page_lists_every_operation_without_a_cdn(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for path, methods in PATHS.items():
        for method in methods:
            assert f"{method.upper()} {path}" in html, (method, path)
    assert "Authorization: Bearer &lt;token&gt;" in html
    assert 'id="schema-DealCreate"' in html and "max length 200" in html
    external = re.findall(r'(?:src|href)="(https?:)?//', html)
    assert external == []


def test_pipelines_and_stages(client, api_headers):
    h = api_headers("seller")
    pipelines = client.get("/api/v1/pipelines", headers=h).get_json()
    assert len(pipelines) == 1 and pipelines[0]["is_default"]
    stages = pipelines[0]["stages"]
    assert [s["percent"] for s in stages][:9] == [0, 10, 20, 40, 60, 70, 80, 90, 100]
    assert [s for s in stages if s["is_won"]] and [s for s in stages if s["is_lost"]]
    pid = pipelines[0]["id"]
    assert client.get(f"/api/v1/pipelines/{pid}", headers=h).get_json()["name"] == "Sales"
    listed = client.get(f"/api/v1/stages?pipeline_id={pid}", headers=h).get_json()
    assert [s["id"] for s in listed] == [s["id"] for s in stages]
    assert client.get("/api/v1/stages?pipeline_id=999", headers=h).get_json() == []
    one = client.get(f"/api/v1/stages/{stages[3]['id']}", headers=h).get_json()
    assert one["percent"] == 40
    assert client.get("/api/v1/stages/99999", headers=h).status_code == 404
    assert client.get("/api/v1/pipelines", headers=api_headers("marketer")).status_code == 403


def test_decimal_strings_are_documented_as_strings(make_app):
    """The API sends decimals as strings ("1250.00"): the document says so for every
    Decimal field, the core's Money and plugins' plain ``fields.Decimal(as_string=True)``."""
    app = make_app(plugins=["leads", "calls", "groups", "funnel", "relationships"])
    schemas = app.test_client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    decimals = {f"{name}.{prop}": spec for name, schema in schemas.items()
                for prop, spec in schema.get("properties", {}).items()
                if spec.get("format") == "decimal"}
    assert {"Deal.amount", "FunnelStage.amount", "FunnelTarget.volume",
            "FunnelTargetIn.margin"} <= set(decimals)
    assert all(spec["type"] == "string" for spec in decimals.values()), decimals
    with app.test_request_context():
        from conveyor.plugins.funnel.schemas import FunnelStageSchema

        dumped = FunnelStageSchema().dump({"amount": "12.5", "weighted_amount": 3})
    assert dumped["amount"] == "12.50"  # what travels is indeed a string


def test_errors_documents_codes_on_the_view_itself_leaving_what_it_wraps_alone():
    import functools

    from conveyor.api.common import errors

    def inner() -> str:
        return "ok"

    inner._apidoc = {"response": {"responses": {200: ["Ok"]}}}  # type: ignore[attr-defined]

    @functools.wraps(inner)
    def outer() -> str:
        return inner()

    assert outer._apidoc is inner._apidoc  # type: ignore[attr-defined]  # wraps shares it
    decorated = errors(404, 422)(outer)
    assert decorated is outer  # no wrapper, so no call layer per code on every request
    assert decorated._apidoc["response"]["responses"] == {  # type: ignore[attr-defined]
        200: ["Ok"], 404: ["NOT_FOUND"], 422: ["UNPROCESSABLE_ENTITY"]}
    assert inner._apidoc == {"response": {"responses": {200: ["Ok"]}}}  # type: ignore
    assert outer() == "ok"
