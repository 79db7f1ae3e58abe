"""One short example per hook, rendered under the hook in docs/hooks.md (conveyor.hookdoc).

Kept apart from the specifications so that a spec's docstring stays a contract and the example
can show context (imports, a model, a template). A test requires an example for every hook.
"""
from __future__ import annotations

EXAMPLES: dict[str, str] = {
    "register_settings": """
        @hookimpl
        def register_settings():
            return [Setting("hello.greeting", default="Hello", type=str,
                            doc="The word the hello page greets with.")]
    """,
    "register_models": """
        class Note(db.Model):
            __tablename__ = "hello_notes"
            id: Mapped[int] = mapped_column(primary_key=True)
            text: Mapped[str] = mapped_column(String(500))

        @hookimpl
        def register_models():
            return [Note]
    """,
    "register_permissions": """
        @hookimpl
        def register_permissions():
            return [Permission("hello.view", _l("See the hello page"))]
    """,
    "register_role_defaults": """
        @hookimpl
        def register_role_defaults():
            return {"seller": {"permissions": ["hello.view"], "widgets": ["hello"]}}
    """,
    "register_nav_items": """
        @hookimpl
        def register_nav_items():
            return [NavItem("hello", _l("Hello"), "hello.index", "hello.view", order=500)]
    """,
    "register_widgets": """
        @hookimpl
        def register_widgets():
            return [Widget("hello", _l("Hello"), "hello.view",
                           lambda user: render_template("hello/widget.html", user=user))]
    """,
    "register_panels": """
        @hookimpl
        def register_panels():
            return [Panel("hello", _l("Notes"), "deal", "hello.view",
                          lambda deal, user: render_template("hello/panel.html", deal=deal))]
    """,
    "register_list_filters": """
        @hookimpl
        def register_list_filters():
            return [ListFilter("big", _l("Big deals"), "deal", lambda: [("1", _l("Yes"))],
                               lambda query, value: query.where(Deal.amount >= 100_000))]
    """,
    "register_events": """
        @dataclass
        class NoteAdded(Event):
            note: Any
            by: Any = None

        @hookimpl
        def register_events():
            return [NoteAdded]
    """,
    "register_jobs": """
        def greet(deal_id: int) -> None:  # runs after the commit, on a worker or in-process
            deal = db.session.get(Deal, deal_id)
            notify(deal.owner_id, _l("Hello from a job"))  # the core commits; never commit here

        @hookimpl
        def register_jobs():
            return [Job("hello.greet", greet, max_attempts=3)]

        # elsewhere, in a request: enqueue("hello.greet", deal_id=deal.id)
    """,
    "register_schedules": """
        @hookimpl
        def register_schedules():
            return [Schedule("hello.sweep", every=timedelta(hours=1)),
                    Schedule("hello.digest", setting="hello.digest_minutes")]
    """,
    "register_stage_gates": """
        def signed_contract(move):
            if not has_signed_contract(move.deal.id):  # your own query
                return _l("The contract is not signed yet.")  # refused, nothing changes
            return None  # let the deal through

        @hookimpl
        def register_stage_gates(app):
            return [StageGate("hello.signed", _l("A signed contract"), signed_contract)]
            # an admin switches it on per stage: Admin → Stages
    """,
    "register_blueprints": """
        bp = Blueprint("hello", __name__, template_folder="templates")

        @bp.get("/hello")
        @require("hello.view")
        def index():
            return render_template("hello/index.html")

        @hookimpl
        def register_blueprints(app):
            return [bp]
    """,
    "register_api_blueprints": """
        api_bp = Blueprint("hello_api", __name__, url_prefix="/api/v1/hello")  # flask_smorest

        @api_bp.route("/")
        class Notes(MethodView):
            @require("hello.view")
            @api_bp.response(200, NoteSchema(many=True))
            def get(self):
                return db.session.scalars(select(Note).limit(50)).all()

        @hookimpl
        def register_api_blueprints(api):
            return [api_bp]
    """,
    "register_commands": """
        @hookimpl
        def register_commands(cli):
            @cli.command("hello")
            def hello_command():
                \"\"\"Print the configured greeting.\"\"\"
                click.echo(setting("hello.greeting"))
    """,
    "startup": """
        @hookimpl
        def startup(app):
            app.jinja_env.filters["shout"] = str.upper
    """,
    "user_from_request": """
        @hookimpl
        def user_from_request(request):
            key = request.headers.get("X-Hello-Key")
            return find_user_by_key(key) if key else None  # None: let others try
    """,
    "record_filters": """
        @hookimpl
        def record_filters(model, user, permission):
            if model is Deal and "seller" in user.roles:
                return [Deal.amount < 1_000_000]  # only ever narrows what the role allows
            return []
    """,
    "register_search_kinds": """
        NOTES_INDEX = SearchIndex("hello_notes", "hello_note", ("title", "body"), ("phone",))

        @hookimpl
        def register_search_kinds():
            def rows(ids):
                return select(Note.id, Note.title, Note.phone).where(Note.id.in_(ids))

            def hit(row):
                return SearchHit("hello_notes", row.id, row.title, "",
                                 url_for("hello.note", note_id=row.id), phones=(row.phone,))

            return [SearchKind("hello_notes", _l("Notes"), Note, "hello.view", NOTES_INDEX,
                               rows, hit, order=50)]

        # in the plugin's migration: create_search_index(op, NOTES_INDEX) in upgrade(),
        # drop_search_index(op, NOTES_INDEX) in downgrade()
    """,
    "extra_template_vars": """
        @hookimpl
        def extra_template_vars(template, request, user):
            return {"hello_greeting": setting("hello.greeting")}
    """,
    "customer_actions": """
        @hookimpl
        def customer_actions(customer, user, request):
            if can(user, "hello.view"):
                return [Action(_l("Say hello"), url_for("hello.greet", customer_id=customer.id),
                               method="post")]
            return []
    """,
    "deal_actions": """
        @hookimpl
        def deal_actions(deal, user, request):
            return [Action(_l("Print"), url_for("hello.print_deal", deal_id=deal.id))]
    """,
    "api_extra_fields": """
        @hookimpl
        def api_extra_fields(resource, objects, user):
            if resource != "deals":
                return {}
            counts = note_counts([d.id for d in objects])  # one query for the whole page
            return {d.id: {"hello_notes": counts.get(d.id, 0)} for d in objects}
    """,
    "handle_event": """
        @hookimpl
        def handle_event(event, session):
            if isinstance(event, DealWon) and not event.deal.customer_id:
                raise ValueError("a won deal needs a customer")  # aborts the whole change
    """,
    "deal_rows_flushed": """
        @hookimpl
        def deal_rows_flushed(connection, session, changes, history, removed_history):
            won = [c for c in changes if c.new and c.new["closed_at"] and
                   not (c.old and c.old["closed_at"])]  # closed by this flush
            if won:  # written with the flush's connection: commits or rolls back with it
                connection.execute(update(closings).values(n=closings.c.n + len(won)))
    """,
    "track_event": """
        @hookimpl
        def track_event(event):
            if isinstance(event, DealWon):  # after the commit; the core commits what you add
                notify(event.deal.owner_id, _l("Well done: %(t)s", t=event.deal.title))

        track_event.conveyor_tracks = {"DealWon"}  # other events: no outbox row for you
    """,
    "seed_demo_data": """
        @hookimpl
        def seed_demo_data(session, users, rng):
            session.add(Note(text="Call back on Monday", author_id=users["seller"].id))
    """,
    # Declared by the funnel plugin.
    "funnel_lead_counts": """
        @hookimpl(optionalhook=True)
        def funnel_lead_counts(start, end, owner_ids):
            rows = db.session.execute(select(Lead.owner_id, func.count())
                                      .where(Lead.created_at >= start, Lead.created_at < end)
                                      .group_by(Lead.owner_id))
            return dict(rows.all())
    """,
    "funnel_lead_counts_by_period": """
        @hookimpl(optionalhook=True)
        def funnel_lead_counts_by_period(bounds, owner_ids):
            # period i is [bounds[i], bounds[i + 1]): one GROUP BY over the period and owner
            period = case(*[(Lead.created_at < b, i) for i, b in enumerate(bounds[1:-1])],
                          else_=len(bounds) - 2)
            out = [{} for _ in bounds[1:]]
            for i, owner, n in db.session.execute(
                    select(period, Lead.owner_id, func.count())
                    .where(Lead.created_at >= bounds[0], Lead.created_at < bounds[-1])
                    .group_by(period, Lead.owner_id)):
                out[i][owner] = n
            return out
    """,
    "funnel_client_visits_by_period": """
        @hookimpl(optionalhook=True)
        def funnel_client_visits_by_period(bounds, owner_ids):
            period = case(*[(Visit.held_at < b, i) for i, b in enumerate(bounds[1:-1])],
                          else_=len(bounds) - 2)
            out = [{} for _ in bounds[1:]]
            for i, owner, kind, n in db.session.execute(
                    select(period, Visit.owner_id, Visit.kind, func.count())
                    .where(Visit.held_at >= bounds[0], Visit.held_at < bounds[-1])
                    .group_by(period, Visit.owner_id, Visit.kind)):
                counts = out[i].setdefault(owner, {"first": 0, "follow_up": 0})
                counts["first" if kind == "first" else "follow_up"] += n
            return out
    """,
    "funnel_client_visits": """
        @hookimpl(optionalhook=True)
        def funnel_client_visits(start, end, owner_ids):
            query = (select(Visit.owner_id, Visit.kind, func.count())
                     .where(Visit.held_at >= start, Visit.held_at < end)
                     .group_by(Visit.owner_id, Visit.kind))
            if owner_ids is not None:
                query = query.where(Visit.owner_id.in_(owner_ids))
            out = {}
            for owner_id, kind, count in db.session.execute(query):
                out.setdefault(owner_id, {"first": 0, "follow_up": 0})[kind] = count
            return out
    """,
    "funnel_fulfilment": """
        @hookimpl(optionalhook=True)
        def funnel_fulfilment(start, end, owner_ids):
            query = (select(Invoice.owner_id, func.sum(Invoice.amount), func.sum(Invoice.margin))
                     .where(Invoice.issued_at >= start, Invoice.issued_at < end)
                     .group_by(Invoice.owner_id))
            return {owner: {"volume": volume, "margin": margin}
                    for owner, volume, margin in db.session.execute(query)}
    """,
    # Declared by the approvals plugin.
    "register_approvables": """
        from conveyor.plugins.approvals.resources import Approvable, Approver

        @hookimpl(optionalhook=True)
        def register_approvables():
            return [Approvable(
                "quote", _l("Quote"),
                load=lambda quote_id, user: get_visible_or_404(Quote, quote_id, user),
                version=lambda quote: quote.sha256,  # a changed quote needs approving again
                title=lambda quote: quote.number,
                url=lambda quote: url_for("hello.quote", quote_id=quote.id),
                deal_id=lambda quote: quote.deal_id,
                approver=Approver.of_role("manager"))]
    """,
    # Declared by the discussions plugin.
    "discussions_discussables": """
        @hookimpl(optionalhook=True)
        def discussions_discussables():
            from conveyor.plugins.discussions import Discussable

            return [Discussable(
                name="quotes", model=Quote, permission="hello.view",
                label=lambda quote: quote.number,
                url=lambda quote: url_for("hello.quote", quote_id=quote.id))]
            # threads at /api/v1/quotes/{id}/posts; followers, mentions and e-mail for free
    """,
    # Declared by the relationships plugin.
    "relationship_interest": """
        @hookimpl(optionalhook=True)
        def relationship_interest(customer_ids):
            query = select(Visit.customer_id, Visit.held_at).where(Visit.interested.is_(True))
            if customer_ids is not None:
                query = query.where(Visit.customer_id.in_(customer_ids))
            return [query]
    """,
    "relationship_activities": """
        @hookimpl(optionalhook=True)
        def relationship_activities(start, end, owner_ids):
            rows = db.session.execute(
                select(Visit.kind, RelationshipState.type, func.count())
                .join(RelationshipState, RelationshipState.customer_id == Visit.customer_id)
                .where(Visit.held_at >= start, Visit.held_at < end)
                .group_by(Visit.kind, RelationshipState.type))
            return [{"activity": kind, "type": type_, "count": n} for kind, type_, n in rows]
    """,
}
