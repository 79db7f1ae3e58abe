"""Render docs/facade.md — every name a plugin may import from ``conveyor``, the event classes'
fields and the core's page names for ``url_for`` — from the code, so the reference can't drift.

``python -m conveyor.facadedoc > docs/facade.md``; a test fails when the file is out of date.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from .hookdoc import to_markdown

INTRO = """# The facade: what a plugin may import from `conveyor`

Generated from `core/__init__.py` by `python -m conveyor.facadedoc > docs/facade.md`; a test keeps
this file identical to the code. Everything listed here is stable: a name is only removed after a
deprecation announced in the CHANGELOG. Anything else under `conveyor.*` may change, except the
modules the [plugin guide](writing-a-plugin.md#what-you-may-import) lists.

Three things every plugin author asks first:
- **Models.** Subclass `conveyor.db.Model` (Flask-SQLAlchemy 3 with SQLAlchemy 2 typed
  `Mapped[...]` columns); tables start with the plugin's name (`hello_notes`). Times are
  `conveyor.types.UTCDateTime` columns holding aware UTC datetimes.
- **CSRF.** Web forms are Flask-WTF `FlaskForm`s: render `{{ form.csrf_token }}` (or
  `{{ form.hidden_tag() }}`) inside the `<form>`; every POST without a valid token is refused
  with 400. A form-less POST button uses `<input type="hidden" name="csrf_token"
  value="{{ csrf_token() }}">`. The API under `/api/v1` authenticates with bearer tokens and is
  exempt.
- **Sessions and commits.** A web view commits its own writes once they are valid
  (`db.session.commit()`; the API's `conveyor.api.common.saving()` block does it and turns
  conflicts into 409s); a request that ends otherwise is rolled back. In a job or a
  `track_event` the core owns the session: it commits when the function returns and rolls back
  when it raises — never commit there.
"""


def _first_paragraph(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return to_markdown(doc.split("\n\n")[0].strip())


def _signature(obj: Any) -> str:
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""
    sig = re.sub(r"\bAny\b", "Any", sig)
    return sig


def _kind(obj: Any) -> str:
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "object"


def _field_type(hint: Any) -> str:
    text = hint if isinstance(hint, str) else getattr(hint, "__name__", repr(hint))
    return str(text).replace("typing.", "")


def _dataclass_fields(cls: type) -> list[str]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - forward references: fall back to the annotation text
        hints = {}
    rows = []
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name, f.type)
        default = ""
        if f.default is not dataclasses.MISSING:
            default = f" = `{f.default!r}`"
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f" = `{f.default_factory()!r}`"  # type: ignore[misc]
        rows.append(f"| `{f.name}` | `{_field_type(hint)}`{default} |")
    return rows


def render_names() -> list[str]:
    import conveyor
    from conveyor.events import Event

    out = ["## Names\n"]
    events = []
    for name in sorted(conveyor.__all__, key=lambda n: (n.lower(), n)):
        obj = getattr(conveyor, name)
        if inspect.isclass(obj) and issubclass(obj, Event) and obj is not Event:
            events.append((name, obj))
            continue
        kind = _kind(obj)
        heading = f"### `{name}{_signature(obj) if kind != 'object' else ''}`"
        out.append(heading + "\n")
        summary = _first_paragraph(obj) if kind != "object" else ""
        if kind == "object":
            summary = _OBJECTS.get(name, "")
        out.append(f"*{kind}* — {summary}\n" if summary else f"*{kind}*\n")
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and dataclasses.fields(obj):
            out.append("| field | type and default |\n|---|---|")
            out.append("\n".join(_dataclass_fields(obj)) + "\n")
        example = _EXAMPLES.get(name)
        if example:
            out.append("```python\n" + inspect.cleandoc(example) + "\n```\n")
    out.append("## Events\n")
    out.append("Emitted by the core's write operations; `handle_event` sees them inside the "
               "transaction, `track_event` after the commit. Every event also has `at` (aware "
               "UTC datetime, set when it is created) and `name` (the class name).\n")
    for name, cls in events:
        out.append(f"### `{name}`\n")
        out.append((_first_paragraph(cls) or "") + "\n")
        if dataclasses.fields(cls):
            out.append("| field | type and default |\n|---|---|")
            out.append("\n".join(_dataclass_fields(cls)) + "\n")
    return out


def render_endpoints() -> list[str]:
    """The core's page names (no plugins enabled), for ``url_for`` in plugin templates."""
    import tempfile

    from .app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(config={"database_url": f"sqlite:///{tmp}/x.db", "secret_key": "doc",
                                 "plugins": []}, plugins=[], instance_path=tmp)
        rules = sorted((r.endpoint, r.rule, ", ".join(sorted((r.methods or set())
                                                             - {"HEAD", "OPTIONS"})))
                       for r in app.url_map.iter_rules()
                       if not r.endpoint.startswith(("api", "static")) and "." in r.endpoint)
    out = ["## Core page names for `url_for`\n",
           "| endpoint | URL | methods |", "|---|---|---|"]
    out += [f"| `{endpoint}` | `{rule}` | {methods} |" for endpoint, rule, methods in rules]
    return [*out, ""]


def render() -> str:
    return "\n".join([INTRO, *render_names(), *render_endpoints()])


_OBJECTS = {
    "db": "the Flask-SQLAlchemy extension: `db.Model` is the base class of every model, "
          "`db.session` the request's (or job's) session.",
    "csrf": "Flask-WTF's `CSRFProtect`: every form POST carries a token; the API is exempt.",
    "limiter": "Flask-Limiter: decorate public endpoints with `@limiter.limit(\"10/minute\")`.",
}

_EXAMPLES = {
    "StageGate": """
        StageGate("hello.signed", _l("A signed contract"), lambda move: None if signed(move.deal)
                  else _l("The contract is not signed yet."))
    """,
    "StageMove": """
        def check(move):  # move.deal, move.old, move.new, move.gated, move.by
            return None if move.new.percent < 70 else _l("Needs a signed contract.")
    """,
    "StageGateRefused": """
        try:
            move_deal(deal, stage, by=current_user)
        except StageGateRefused as refused:
            flash(str(refused), "error")  # the reasons, in the reader's language
    """,
    "csp_nonce": """
        html = Markup('<script nonce="{}" src="/static/hello.js"></script>').format(csp_nonce())
        # in a template: <script nonce="{{ csp_nonce() }}">…</script>
    """,
    "record_audit": """
        record_audit("hello.export", object_type="customer", object_id=customer.id,
                     label=customer.name)  # committed with the request's transaction
    """,
    "bar_chart": """
        # In Python, or in any template (the chart names are template globals too):
        rows = [ChartRow(_(s.name), n, format_decimal(n), href=url_for(".stage", id=s.id),
                         key=str(s.id)) for s, n in counts]
        html = bar_chart(rows, _("Deals by stage"), chart_id="by-stage",
                         empty=_("No deals in this selection."))  # then a table of the same rows
    """,
    "ChartRow": """
        ChartRow(_("October"), [won, lost], [str(won), str(lost)], key="2026-10")
        # with bar_chart(..., series=[ChartSeries(_("Won deals"), "won"),
        #                             ChartSeries(_("Lost deals"), "lost")])
    """,
    "ChartSeries": """
        series = [ChartSeries(_("Won deals"), "won"), ChartSeries(_("Lost deals"), "lost")]
    """,
    "progress_chart": """
        {# in a template: #}
        {% set items = [ChartProgress(r.label, r.signed, r.target, (r.ratio)|percent(0))] %}
        {{ progress_chart(items, _('Signed against the target'), chart_id='plan') }}
    """,
    "ChartProgress": """
        ChartProgress(seller.label, signed, target, "75 %", detail="$7.5K of $10K")
        ChartProgress(seller.label, signed, None, "—", note=_("No target set"))  # no bar
    """,
    "sparkline": """
        points = [SparkPoint(label_of(p), n, str(n)) for p, n in last_six_months]
        html = sparkline(points, _("Won deals by month"), chart_id="won-trend")
    """,
    "SparkPoint": """
        SparkPoint("Nov 2026", 12, "12")
    """,
    "company_currency": """
        heading = _("Totals in %(currency)s", currency=company_currency())
    """,
    "convert_total": """
        total = convert_total({"USD": Decimal("100"), "CNY": Decimal("1000")}, date.today())
        if total.missing: ...  # currencies without a rate: say so, never count them as 0
    """,
    "RateBook": """
        book = RateBook({c for c, _day in sums}, first_day, last_day)  # one statement
        total = sum(amount * book.rate(c, day) for (c, day), amount in sums.items()
                    if book.rate(c, day) is not None)  # None: no rate that day, name it
    """,
    "rates_on": """
        rates = rates_on(["CNY", "EUR"], deal.closed_at.date())  # one statement for all
    """,
    "Total": """
        total = convert_total(amounts, today)
        shown = f"{total.amount} {total.currency}" + (" *" if not total.complete else "")
    """,
    "SearchIndex": """
        NOTES_INDEX = SearchIndex("hello_notes", "hello_note", ("title", "body"), phones=("phone",))
    """,
    "SearchKind": """
        SearchKind("hello_notes", _l("Notes"), Note, "hello.view", NOTES_INDEX,
                   rows=lambda ids: select(Note.id, Note.title).where(Note.id.in_(ids)),
                   hit=lambda row: SearchHit("hello_notes", row.id, row.title, "",
                                             url_for("hello.note", note_id=row.id)))
    """,
    "SearchHit": """
        SearchHit("hello_notes", row.id, row.title, row.customer_name, url,
                  phones=(row.phone,), emails=(row.email,))  # shown as tel:/mailto: links
    """,
    "create_search_index": """
        def upgrade():  # in the plugin's migration
            create_search_index(op, SearchIndex("hello_notes", "hello_note", ("title",)))
    """,
    "drop_search_index": """
        def downgrade():
            drop_search_index(op, SearchIndex("hello_notes", "hello_note", ("title",)))
    """,
    "Action": """
        @hookimpl
        def deal_actions(deal, user, request):
            return [Action(_l("Print"), url_for("hello.print_deal", deal_id=deal.id))]
    """,
    "Attachment": """
        send_mail(contact_email, subject, text,
                  attachments=[Attachment("offer.pdf", "application/pdf", path=str(pdf_path))])
    """,
    "ListFilter": """
        ListFilter("hot", _l("Hot"), "deal", lambda: [("1", _l("Yes"))],
                   lambda query, value: query.where(Deal.amount > 10_000))
    """,
    "Manifest": """
        manifest = Manifest(title=_l("Hello"), requires=(), uses=("leads",))
    """,
    "NavItem": """
        NavItem("hello", _l("Hello"), "hello.index", "hello.view", order=500)
    """,
    "Panel": """
        Panel("hello", _l("Hello"), "deal", "hello.view",
              lambda deal, user: render_template("hello/panel.html", deal=deal))
    """,
    "PipelineInfo": """
        pipeline = current_pipelines().get()  # the default pipeline
        names = [stage.name for stage in pipeline.stages]
    """,
    "Pipelines": """
        pipelines = current_pipelines()
        pipeline = pipelines.get(deal.pipeline_id)
    """,
    "Setting": """
        Setting("hello.greeting", default="Hello", type=str, doc="The word the page greets with.")
    """,
    "StageInfo": """
        open_stages = [s for s in current_pipelines().get().stages if s.is_open]
    """,
    "Widget": """
        Widget("hello", _l("Hello"), "hello.view", lambda user: render_template("hello/w.html"))
    """,
    "can": """
        if can(current_user, "leads.assign"): ...
    """,
    "colleagues": """
        owners = db.session.scalars(colleagues(current_user, "deals.edit")).all()
    """,
    "create_app": """
        app = create_app(config={"database_url": "sqlite:///crm.db"}, plugins=["hello"])
    """,
    "create_customer": """
        customer = create_customer({"name": "Acme"}, by=current_user)
    """,
    "delete_deal": """
        delete_deal(deal, by=current_user)
    """,
    "emit": """
        emit(NoteAdded(note=note, by=current_user))  # your own Event subclass
    """,
    "hookimpl": """
        @hookimpl
        def register_nav_items():
            return [NavItem("hello", _l("Hello"), "hello.index", "hello.view")]
    """,
    "hookspec": """
        @hookspec
        def hello_greetings(user):
            \"\"\"Greetings other plugins add to the hello page.\"\"\"
    """,
    "login_required": """
        @bp.get("/hello/me")
        @login_required
        def me(): ...
    """,
    "owner_ids": """
        ids = owner_ids(current_user)  # a list, or a SELECT of ids for a team
    """,
    "post_timeline": """
        post_timeline("hello.greeted", "Said hello", deal=deal, by=current_user)
    """,
    "timeline_kind": """
        timeline_kind("hello.greeted", _l("greeted"))  # at import: cards show "greeted"
    """,
    "timeline_label": """
        line = f"{timeline_label(entry.kind)} {entry.message}"  # "call logged …", translated
    """,
    "in_company_language": """
        post_timeline("hello.greeted", in_company_language(_l("Said hello")), deal=deal)
    """,
    "public": """
        @bp.post("/hello/webhook")
        @public
        def webhook(): ...
    """,
    "recipient_locale": """
        with force_locale(recipient_locale(user)):
            text = render_template("hello/mail.txt")
    """,
    "roles_holding": """
        lawyer_roles = roles_holding("documents.approve")
    """,
    "scope": """
        notes = select(Note).where(scope(Note, current_user))  # Note has owner_id
    """,
    "scope_of": """
        if scope_of(current_user) == "all": ...  # "own", "team" or "all"
    """,
    "update_customer": """
        changes = update_customer(customer, {"name": "Acme Ltd"}, by=current_user)
    """,
    "update_deal": """
        changes = update_deal(deal, {"amount": Decimal("12000")}, by=current_user)
    """,
    "enqueue": """
        from conveyor import enqueue
        enqueue("hello.greet", key=f"greet:{deal.id}", deal_id=deal.id)  # runs after the commit
    """,
    "send_mail": """
        from conveyor import send_mail
        from conveyor.i18n import _l
        send_mail(user, _l("Your report is ready"), lambda: render_template("hello/mail.txt"))
    """,
    "notify": """
        from conveyor import notify
        from conveyor.i18n import _l
        notify(deal.owner_id, _l("Deal %(title)s was won", title=deal.title), url=f"/deals/{deal.id}")
    """,
    "require": """
        @bp.get("/hello")
        @require("hello.view")
        def index(): ...
    """,
    "scoped": """
        visible = db.session.scalars(scoped(Customer, current_user).limit(50))
    """,
    "get_visible_or_404": """
        deal = get_visible_or_404(Deal, deal_id, current_user)  # another's deal: 404, not 403
    """,
    "Job": """
        @hookimpl
        def register_jobs():
            return [Job("hello.greet", greet, max_attempts=3)]
    """,
    "Schedule": """
        @hookimpl
        def register_schedules():
            return [Schedule("hello.sweep", every=timedelta(hours=1))]
    """,
    "Permission": """
        @hookimpl
        def register_permissions():
            return [Permission("hello.view", _l("See the hello page"))]
    """,
    "setting": """
        greeting = setting("hello.greeting")
    """,
    "create_deal": """
        deal = create_deal({"title": "Pumps", "customer_id": customer.id, "amount": Decimal("10")},
                           by=current_user)
    """,
    "move_deal": """
        move_deal(deal, stage, by=current_user)  # history, timeline and events in one place
    """,
    "current_pipelines": """
        for stage in current_pipelines().get().stages: ...
    """,
}


if __name__ == "__main__":
    print(render(), end="")
