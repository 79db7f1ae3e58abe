"""/api/v1/docs: a readable API reference rendered on the server from the OpenAPI document.

No Swagger UI or ReDoc: those need JavaScript bundles we would have to vendor, and a CDN is
out of the question. Every path, method, parameter, body and response comes straight from
``api.spec.to_dict()``, so the page can never disagree with /api/v1/openapi.json.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, render_template_string

from ..i18n import _
from ..permissions import public

bp = Blueprint("api_docs", __name__)
METHOD_ORDER = ("get", "post", "put", "patch", "delete")
CONSTRAINTS = (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "min"),
               ("maximum", "max"), ("pattern", "pattern"), ("format", "format"))


def describe(prop: dict[str, Any]) -> dict[str, Any]:
    """A property or parameter schema as ``{type, ref, notes}`` for one table row."""
    if "$ref" in prop:
        return {"type": "", "ref": prop["$ref"].rsplit("/", 1)[-1], "notes": []}
    if prop.get("allOf") and "$ref" in prop["allOf"][0]:
        inner = describe(prop["allOf"][0])
        inner["notes"] = ["nullable"] if prop.get("nullable") else []
        return inner
    kind = prop.get("type", "any")
    if kind == "array":
        inner = describe(prop.get("items", {}))
        return {"type": "array of " + (inner["type"] or ""), "ref": inner["ref"],
                "notes": inner["notes"]}
    notes = [f"{label} {prop[key]}" for key, label in CONSTRAINTS if key in prop]
    if "enum" in prop:
        notes.append("one of " + ", ".join(repr(v) for v in prop["enum"]))
    for flag in ("nullable", "readOnly", "writeOnly"):
        if prop.get(flag):
            notes.append(flag)
    if "default" in prop:
        notes.append(f"default {prop['default']!r}")
    return {"type": kind, "ref": None, "notes": notes}


def _schema_name(content: dict[str, Any] | None) -> dict[str, Any] | None:
    schema = ((content or {}).get("application/json") or {}).get("schema")
    return describe(schema) if schema else None


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Operations grouped under their tag, in the spec's tag order."""
    groups: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in spec.get("tags", [])}
    for path, item in sorted(spec.get("paths", {}).items()):
        shared = item.get("parameters", [])
        for method in METHOD_ORDER:
            op = item.get(method)
            if op is None:
                continue
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "description": p.get("description", ""), **describe(p.get("schema", {}))}
                      for p in [*shared, *op.get("parameters", [])]]
            responses = [{"code": code, "description": resp.get("description", ""),
                          "schema": _schema_name(resp.get("content"))}
                         for code, resp in sorted(_responses(spec, op).items())]
            body = _schema_name((op.get("requestBody") or {}).get("content"))
            entry = {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                     "description": op.get("description", ""), "parameters": params,
                     "body": body, "responses": responses, "id": f"{method}-{path}"}
            for tag in op.get("tags") or ["other"]:
                groups.setdefault(tag, []).append(entry)
    descriptions = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    return [{"name": name, "description": descriptions.get(name, ""), "operations": ops}
            for name, ops in groups.items() if ops]


def _responses(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    shared = spec.get("components", {}).get("responses", {})
    out = {}
    for code, resp in op.get("responses", {}).items():
        if "$ref" in resp:
            resp = shared.get(resp["$ref"].rsplit("/", 1)[-1], {})
        out[str(code)] = resp
    return out


def schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        props = [{"name": prop_name, "required": prop_name in required, **describe(prop),
                  "description": prop.get("description", "")}
                 for prop_name, prop in schema.get("properties", {}).items()]
        result.append({"name": name, "properties": props,
                       "extra": schema.get("additionalProperties")})
    return result


def _texts() -> dict[str, str]:
    """The page's words, translated for the request's locale (pybabel extracts them here)."""
    return {
        "title": _("API reference"),
        "spec_link": _("The machine-readable description is at %(url)s.",
                       url="/api/v1/openapi.json"),
        "auth": _("Authentication"),
        "auth_text": _("Send Authorization: Bearer <token> with every request. Create a token "
                       "on your profile page or with the command conveyor token create USER. "
                       "Without one the API answers 401."),
        "session_text": _("A signed-in browser session may read (GET) but never write: POST, "
                          "PATCH and DELETE need the token."),
        "pagination": _("Pagination"),
        "pagination_text": _("Lists return the newest rows first as {\"items\": [...], "
                             "\"pagination\": {...}}. Pass page_size (capped by the server) "
                             "and, for the next page, before set to pagination.next_before; the "
                             "Link header carries the same next URL. The last page has "
                             "next_before null."),
        "errors": _("Errors"),
        "errors_text": _("Errors are JSON objects with code, status and message. Invalid input "
                         "is 422 with messages per field under errors.json or errors.query; "
                         "malformed JSON is 400; a record you may not see is 404; a stale deal "
                         "version is 409."),
        "locking": _("Optimistic locking"),
        "locking_text": _("Deals carry a version. Send it back with PATCH, in the body or as "
                          "If-Match; if someone changed the deal meanwhile the update is "
                          "refused with 409 and nothing is overwritten."),
        "operations": _("Operations"),
        "parameters": _("Parameters"),
        "name": _("Name"),
        "where": _("In"),
        "type": _("Type"),
        "required": _("Required"),
        "description": _("Description"),
        "yes": _("yes"),
        "no": _("no"),
        "request_body": _("Request body (JSON):"),
        "responses": _("Responses"),
        "status": _("Status"),
        "meaning": _("Meaning"),
        "body": _("Body"),
        "schemas": _("Schemas"),
        "extensible": _("may carry extra fields added by plugins"),
        "strict": _("unknown fields are refused"),
        "field": _("Field"),
    }


@bp.get("/api/v1/docs")
@public
def index() -> Any:
    """The page, rendered once per language: the spec is fixed once the app is built, and
    rendering it (a few MB of dicts and strings at its peak) on every visit left each worker
    that much larger."""
    from flask_babel import get_locale

    pages = current_app.extensions.setdefault("conveyor_api_docs", {})
    locale = str(get_locale() or "en")
    if locale not in pages:  # kept as UTF-8: as a str its one "—" made it 2 bytes a character
        spec = current_app.extensions["conveyor_api"].spec.to_dict()
        pages[locale] = render_template_string(PAGE, spec=spec, t=_texts(),
                                               groups=operations(spec),
                                               schemas=schemas(spec)).encode()
    return Response(pages[locale], mimetype="text/html")


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ t.title }} · Conveyor</title>
  <link rel="stylesheet" href="{{ url_for('static', filename='conveyor.css') }}">
</head>
<body>
<header class="topbar"><span class="brand">Conveyor</span></header>
<main>
<h1>{{ spec.info.title }} {{ spec.info.version }} — {{ t.title }}</h1>
<section class="box">
  <p>{{ t.spec_link }}</p>
  <h2>{{ t.auth }}</h2>
  <p>{{ t.auth_text }}</p>
  <p>{{ t.session_text }}</p>
  <h2>{{ t.pagination }}</h2>
  <p>{{ t.pagination_text }}</p>
  <h2>{{ t.errors }}</h2>
  <p>{{ t.errors_text }}</p>
  <h2>{{ t.locking }}</h2>
  <p>{{ t.locking_text }}</p>
</section>
<nav class="box" aria-label="{{ t.operations }}">
  <ul>
  {% for group in groups %}{% for op in group.operations %}
    <li><a href="#{{ op.id }}"><code>{{ op.method }} {{ op.path }}</code></a> {{ op.summary }}</li>
  {% endfor %}{% endfor %}
  </ul>
</nav>
{% macro typeof(item) -%}
  {{- item.type }}
  {%- if item.ref %} <a href="#schema-{{ item.ref }}">{{ item.ref }}</a>{% endif %}
  {%- if item.notes %} <span class="muted">({{ item.notes|join('; ') }})</span>{% endif -%}
{%- endmacro %}
{% for group in groups %}
<section class="box" id="tag-{{ group.name }}">
  <h2>{{ group.name }}</h2>
  {% if group.description %}<p>{{ group.description }}</p>{% endif %}
  {% for op in group.operations %}
  <article id="{{ op.id }}">
    <h3><code>{{ op.method }} {{ op.path }}</code> — {{ op.summary }}</h3>
    {% if op.description %}<p>{{ op.description }}</p>{% endif %}
    {% if op.parameters %}
    <table>
      <caption>{{ t.parameters }}</caption>
      <tr><th>{{ t.name }}</th><th>{{ t.where }}</th><th>{{ t.type }}</th>
          <th>{{ t.required }}</th><th>{{ t.description }}</th></tr>
      {% for p in op.parameters %}
      <tr><td><code>{{ p.name }}</code></td><td>{{ p.in }}</td><td>{{ typeof(p) }}</td>
          <td>{{ t.yes if p.required else t.no }}</td><td>{{ p.description }}</td></tr>
      {% endfor %}
    </table>
    {% endif %}
    {% if op.body %}<p>{{ t.request_body }} {{ typeof(op.body) }}</p>{% endif %}
    <table>
      <caption>{{ t.responses }}</caption>
      <tr><th>{{ t.status }}</th><th>{{ t.meaning }}</th><th>{{ t.body }}</th></tr>
      {% for r in op.responses %}
      <tr><td>{{ r.code }}</td><td>{{ r.description }}</td>
          <td>{% if r.schema %}{{ typeof(r.schema) }}{% endif %}</td></tr>
      {% endfor %}
    </table>
  </article>
  {% endfor %}
</section>
{% endfor %}
<section class="box">
  <h2>{{ t.schemas }}</h2>
  {% for schema in schemas %}
  <table id="schema-{{ schema.name }}">
    <caption>{{ schema.name }}
      {%- if schema.extra is sameas true %} — {{ t.extensible }}
      {%- elif schema.extra is sameas false %} — {{ t.strict }}{% endif %}</caption>
    <tr><th>{{ t.field }}</th><th>{{ t.type }}</th><th>{{ t.required }}</th>
        <th>{{ t.description }}</th></tr>
    {% for p in schema.properties %}
    <tr><td><code>{{ p.name }}</code></td><td>{{ typeof(p) }}</td>
        <td>{{ t.yes if p.required else t.no }}</td><td>{{ p.description }}</td></tr>
    {% endfor %}
  </table>
  {% endfor %}
</section>
</main>
</body>
</html>
"""
