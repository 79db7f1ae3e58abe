"""POST /public/leads/<form_key>: stored first, defended, validated, CORS only for the form's
own websites."""
from __future__ import annotations

from sqlalchemy import func, select

from conveyor import db

ORIGIN = "https://shop.example.com"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def post(client, key="website", origin=ORIGIN, **body):
    headers = {"Origin": origin} if origin else {}
    return client.post(f"/public/leads/{key}", json=body, headers=headers)


def test_json_post_stores_and_assigns_the_lead(app, client, make_rule, make_form, leads_of,
                                               users, captured_events):
    rule = make_rule("Website", ["seller", "seller2"])
    make_form(rule_id=rule)
    response = post(client, company="ООО «Ромашка»", name="Ирина", email="Irina@Example.com ",
                    phone="8 (916) 123-45-67")
    assert response.status_code == 200, response.data
    assert response.get_json()["ok"] is True
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    [lead] = leads_of()
    assert lead["email_normalized"] == "irina@example.com"
    assert lead["phone_e164"] == "+79161234567"
    assert lead["company_normalized"] == "ромашка"
    assert lead["source"] == "website" and lead["status"] == "new"
    assert lead["owner_id"] == users["seller"]
    assert {"LeadCaptured", "LeadAssigned"} <= set(captured_events.names())
    from conveyor import db
    from conveyor.models import Notification
    with app.app_context():  # after the commit, the seller was told
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == users["seller"])) == 1


def test_form_post_redirects_to_the_thank_you_page(client, make_form, leads_of):
    make_form(thank_you_url="https://shop.example.com/thanks")
    response = client.post("/public/leads/website", data={"email": "a@b.co", "name": "A"},
                           headers={"Origin": ORIGIN, "Accept": BROWSER})
    assert response.status_code == 303
    assert response.headers["Location"] == "https://shop.example.com/thanks"
    assert len(leads_of()) == 1


def test_form_post_without_thank_you_page_shows_ours(client, make_form):
    make_form()
    response = client.post("/public/leads/website", data={"email": "a@b.co"})
    assert response.status_code == 200 and b"Thank you" in response.data


def test_honeypot_is_answered_like_success_but_not_stored(client, make_form, leads_of):
    make_form()
    response = post(client, email="bot@spam.example", website="http://spam.example")
    assert response.status_code == 200 and response.get_json()["ok"] is True
    assert leads_of() == []


def test_unknown_or_closed_form_is_404(client, make_form):
    make_form("closed", active=False)
    assert post(client, "nope", email="a@b.co").status_code == 404
    assert post(client, "closed", email="a@b.co").status_code == 404


def test_origin_not_allowed_is_refused_without_cors_headers(client, make_form, leads_of):
    make_form()
    response = post(client, origin="https://evil.example", email="a@b.co")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert leads_of() == []


def test_preflight_for_allowed_and_denied_origins(client, make_form):
    make_form()
    ok = client.options("/public/leads/website", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in ok.headers["Access-Control-Allow-Headers"]
    denied = client.options("/public/leads/website", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert denied.status_code == 403
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_server_to_server_post_without_origin_is_accepted(client, make_form, leads_of):
    make_form()
    assert post(client, origin=None, email="a@b.co").status_code == 200
    assert len(leads_of()) == 1


def test_bad_fields_get_422_with_a_message_per_field(client, make_form, leads_of):
    make_form()
    response = post(client, email="not-an-email", phone="12", size="huge", company=5)
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert set(errors) == {"email", "phone", "size", "company"}
    assert "email address" in errors["email"][0]
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN  # readable by the site
    assert leads_of() == []


def test_required_field_missing(client, make_form):
    make_form()
    response = post(client, name="No email")
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["email"] == ["This field is required."]


def test_html_form_errors_are_a_readable_page(client, make_form):
    make_form()
    response = client.post("/public/leads/website", data={"email": "nope"},
                           headers={"Accept": BROWSER})
    assert response.status_code == 422
    assert b"Please check the form" in response.data and b"email address" in response.data


def test_malformed_bodies_are_400(client, make_form):
    make_form()
    assert client.post("/public/leads/website", data="[1, 2]",
                       content_type="application/json").status_code == 400
    assert client.post("/public/leads/website", data="hello",
                       content_type="text/plain").status_code == 400


def test_too_long_value_is_422_and_oversize_body_413(client, make_form, leads_of):
    make_form()
    assert post(client, email="a@b.co", name="x" * 501).status_code == 422
    big = client.post("/public/leads/website", data={"email": "a@b.co", "notes": "x" * 20000},
                      headers={"Origin": ORIGIN})
    assert big.status_code == 413
    assert leads_of() == []


def test_rate_limit_answers_429(make_app, make_form):
    app = make_app(plugins=["leads"], config={"ratelimit_enabled": True, "leads": {
        "public_rate_limit": "3 per minute", "process_inline": True}})
    from conveyor import db
    from conveyor.plugins.leads.models import LeadForm
    with app.app_context():
        db.session.add(LeadForm(key="website", name="W", fields=[{"name": "email"}],
                                allowed_origins=[ORIGIN]))
        db.session.commit()
    client = app.test_client()
    answers = [post(client, email=f"p{i}@example.com") for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert "Too many submissions" in answers[-1].get_json()["message"]  # JSON for a script
    assert answers[-1].headers["Access-Control-Allow-Origin"] == ORIGIN


def test_public_endpoint_needs_no_csrf_token_and_no_login(make_app, make_form):
    make_form()
    strict = make_app(plugins=["leads"], config={"csrf_enabled": True,
                                                 "leads": {"process_inline": True}})
    from conveyor import db
    from conveyor.plugins.leads.models import LeadForm
    with strict.app_context():
        db.session.add(LeadForm(key="website", name="W", fields=[{"name": "email"}],
                                allowed_origins=[ORIGIN]))
        db.session.commit()
    assert post(strict.test_client(), email="a@b.co").status_code == 200


def test_capture_survives_a_failing_rule(app, client, make_rule, make_form, leads_of,
                                         monkeypatch):
    """Assignment may fail; the lead is still stored (unassigned, for the sweep)."""
    make_form(rule_id=make_rule("RR", ["seller"]))
    from conveyor.plugins.leads import assignment

    def broken(*args, **kwargs):
        raise RuntimeError("rule engine down")

    monkeypatch.setattr(assignment, "load_rules", broken)
    assert post(client, email="a@b.co").status_code == 200
    [lead] = leads_of()
    assert lead["owner_id"] is None


def test_duplicate_submission_is_merged_not_dropped(app, client, make_form, leads_of):
    make_form()
    post(client, email="a@b.co", name="Anna")
    post(client, email="A@B.CO", phone="+7 916 123 45 67", notes="Call me after 5")
    [lead] = leads_of()
    assert lead["phone_e164"] == "+79161234567"  # the blank was filled
    from conveyor import db
    from conveyor.plugins.leads.models import LeadActivity
    with app.app_context():
        [merged] = db.session.scalars(select(LeadActivity).where(LeadActivity.kind == "merged"))
        assert "Call me after 5" in merged.note


def test_openapi_documents_the_public_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    post_op = spec["paths"]["/public/leads/{form_key}"]["post"]
    assert post_op["security"] == []
    assert {"200", "403", "413", "422", "429"} <= set(post_op["responses"])
    assert "PublicLead" in spec["components"]["schemas"]


def test_capture_is_finished_by_the_intake_thread(make_app, users):
    """Without inline processing the answer comes first; the process's intake thread then
    dedupes, links and assigns."""
    import time

    from conveyor.plugins.leads.models import Lead, LeadForm, LeadRule, LeadRuleSeller
    app = make_app(plugins=["leads"])
    with app.app_context():
        rule = LeadRule(name="RR", rr_cursor=0, sellers=[LeadRuleSeller(user_id=users["seller"])])
        db.session.add(rule)
        db.session.flush()
        db.session.add(LeadForm(key="website", name="W", fields=[{"name": "email"}],
                                allowed_origins=[ORIGIN], rule_id=rule.id))
        db.session.commit()
    try:
        assert post(app.test_client(), email="t@x.co").status_code == 200
        deadline = time.monotonic() + 10
        owner = None
        while time.monotonic() < deadline and owner is None:
            time.sleep(0.05)
            with app.app_context():
                owner = db.session.scalar(select(Lead.owner_id))
                db.session.remove()
        assert owner == users["seller"]
    finally:
        app.extensions["leads_intake"].stop()


def test_a_capture_left_unfinished_by_a_crash_is_finished_by_the_sweep(app, client, make_rule,
                                                                      make_form, users,
                                                                      monkeypatch):
    """The process stored the lead and died before its intake ran: the sweep finishes it."""
    from conveyor.plugins.leads import intake
    from conveyor.plugins.leads.assignment import sweep
    from conveyor.plugins.leads.models import Lead, LeadAssignment
    make_form(rule_id=make_rule("RR", ["seller2"]))
    app.extensions["conveyor"].settings["leads.process_inline"] = False
    monkeypatch.setattr(intake, "wake", lambda app: None)  # the intake never runs: "crashed"
    assert post(client, email="crash@x.co").status_code == 200
    with app.app_context():
        lead = db.session.scalar(select(Lead))
        assert lead.processed_at is None and lead.owner_id is None
        sweep()
        lead = db.session.get(Lead, lead.id)
        assert lead.owner_id == users["seller2"] and lead.processed_at is not None
        assert db.session.scalar(select(func.count()).select_from(LeadAssignment)) == 1
        assert sweep().assigned == 0


def test_intake_merges_a_capture_into_an_older_lead_with_the_same_phone(app, client, make_form,
                                                                        leads_of):
    make_form(fields=[{"name": n} for n in ("company", "name", "email", "phone", "notes")])
    assert post(client, email="first@x.co", phone="+7 916 555-44-33", name="Nina").status_code \
        == 200
    assert post(client, phone="8 916 5554433", notes="Second try",
                company="Nina Co").status_code == 200
    [lead] = leads_of()
    assert lead["company"] == "Nina Co"
    from conveyor.plugins.leads.models import LeadActivity
    with app.app_context():
        [note] = db.session.scalars(select(LeadActivity.note).where(
            LeadActivity.kind == "merged"))
        assert "Second try" in note


def test_errors_are_json_for_anyone_but_a_browser(client, make_form):
    make_form()
    for accept in ("*/*", "", "application/json"):
        headers = {"Accept": accept} if accept else {}
        for method, url, code in (("POST", "/public/leads/no-such-form", 404),
                                  ("GET", "/public/leads/website", 405),
                                  ("POST", "/public/leads/", 404),
                                  ("POST", "/public/leads/website", 422)):
            response = client.open(url, method=method, data={"email": "nope"}, headers=headers)
            assert response.status_code == code, (url, accept)
            assert response.mimetype == "application/json", (url, accept)
            assert response.get_json()["code"] == code
            if code == 405:
                assert "POST" in response.headers["Allow"]
    page = client.post("/public/leads/no-such-form", headers={"Accept": BROWSER})
    assert page.status_code == 404 and page.mimetype == "text/html"
