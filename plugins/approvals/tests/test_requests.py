"""Approval requests through the API: who may decide, the history, versions, the queue."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from conveyor.extensions import db
from conveyor.models import Notification
from conveyor.plugins.approvals.models import ApprovalRequest, ApprovalStep
from conveyor.types import utcnow

from .conftest import gate_stage, make_deal, stage_id


def send_memo(app, memos, client, headers, body=b"v1", deal_id=None, **extra):
    deal_id = deal_id or make_deal(app)
    memo = memos.add(deal_id, body)
    r = client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo.id,
                                                **extra}, headers=headers)
    return memo, r


def test_a_lawyer_approves_a_memo_and_the_history_keeps_every_step(app, memos, client,
                                                                  api_headers, users):
    seller, lawyer = api_headers("seller"), api_headers("lawyer")
    memo, r = send_memo(app, memos, client, seller, note="Standard terms")
    assert r.status_code == 201, r.json
    created = r.json
    assert created["status"] == "pending" and created["rule"] == "role"
    assert created["approver_role"] == "lawyer" and created["requested_by_id"] == users["seller"]
    assert len(created["version"]) == 64  # the memo's sha256
    queue = client.get("/api/v1/approvals?status=pending", headers=lawyer).json
    assert [i["id"] for i in queue["items"]] == [created["id"]]
    assert client.get("/api/v1/approvals", headers=api_headers("manager")).json["items"] == []

    r = client.post(f"/api/v1/approvals/{created['id']}/approve", json={"comment": "Fine"},
                    headers=lawyer)
    assert r.status_code == 200 and r.json["status"] == "approved"
    assert r.json["decided_by_id"] == users["lawyer"]
    steps = r.json["history"]
    assert [(s["action"], s["by_id"]) for s in steps] == [
        ("requested", users["seller"]), ("approved", users["lawyer"])]
    assert steps[1]["comment"] == "Fine" and steps[0]["at"].endswith("+00:00")
    assert client.get("/api/v1/approvals?status=pending", headers=lawyer).json["items"] == []
    decided = client.get("/api/v1/approvals?status=approved", headers=lawyer).json["items"]
    assert [i["id"] for i in decided] == [created["id"]]
    mine = client.get("/api/v1/approvals?status=approved&mine=true", headers=seller).json
    assert [i["id"] for i in mine["items"]] == [created["id"]]


def test_only_an_approver_may_approve(app, memos, client, api_headers, users):
    memo, r = send_memo(app, memos, client, api_headers("seller"))
    request_id = r.json["id"]
    # The seller may not decide at all; the manager may decide, but this is the lawyers' request.
    for who in ("seller", "manager"):
        r = client.post(f"/api/v1/approvals/{request_id}/approve", json={},
                        headers=api_headers(who))
        assert r.status_code == 403, who
    # A lawyer asking for a lawyer's approval can't approve their own request either.
    memo2 = memos.add(memo.deal_id, b"other")
    r = client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo2.id},
                    headers=api_headers("lawyer"))
    assert r.status_code == 422  # no other lawyer: nobody could approve
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApprovalStep)) == 1


def test_a_manager_approving_their_own_request_is_refused(app, memos, client, api_headers,
                                                        users):
    deal_id = make_deal(app, owner="manager")
    memo, r = send_memo(app, memos, client, api_headers("manager"), deal_id=deal_id,
                        approver={"rule": "role", "role": "manager"})
    assert r.status_code == 422  # the only manager: nobody else could approve
    memo, r = send_memo(app, memos, client, api_headers("manager"), deal_id=deal_id,
                        approver={"rule": "user", "user_id": users["manager"]})
    assert r.status_code == 422
    memo, r = send_memo(app, memos, client, api_headers("manager"), deal_id=deal_id,
                        approver={"rule": "role", "role": "lawyer"})
    assert r.status_code == 201
    r2 = client.post(f"/api/v1/approvals/{r.json['id']}/approve", json={},
                     headers=api_headers("manager"))
    assert r2.status_code == 403


def test_sending_back_needs_a_comment_and_a_new_version_goes_back_to_the_lawyers(
        app, memos, client, api_headers, users):
    seller, lawyer = api_headers("seller"), api_headers("lawyer")
    memo, r = send_memo(app, memos, client, seller)
    request_id, first_version = r.json["id"], r.json["version"]
    r = client.post(f"/api/v1/approvals/{request_id}/request-changes", json={}, headers=lawyer)
    assert r.status_code == 422 and "comment" in r.json["errors"]["json"]
    r = client.post(f"/api/v1/approvals/{request_id}/request-changes",
                    json={"comment": "   "}, headers=lawyer)
    assert r.status_code == 422
    r = client.post(f"/api/v1/approvals/{request_id}/request-changes",
                    json={"comment": "Clause 4 is missing"}, headers=lawyer)
    assert r.status_code == 200 and r.json["status"] == "changes_requested"
    # Approving a request sent back is a conflict, not a silent change.
    assert client.post(f"/api/v1/approvals/{request_id}/approve", json={},
                       headers=lawyer).status_code == 409
    memo.body = b"v2 with clause 4"
    r = client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo.id},
                    headers=seller)
    assert r.status_code == 201 and r.json["id"] == request_id  # the same request, sent again
    assert r.json["status"] == "pending" and r.json["version"] != first_version
    # The same version twice is refused.
    again = client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo.id},
                        headers=seller)
    assert again.status_code == 409
    assert [s["action"] for s in r.json["history"]] == [
        "requested", "changes_requested", "resubmitted"]
    assert r.json["history"][1]["comment"] == "Clause 4 is missing"
    assert r.json["history"][1]["version"] == first_version


def test_an_approval_binds_to_the_version_so_a_changed_record_needs_approving_again(
        app, memos, client, api_headers):
    seller, lawyer = api_headers("seller"), api_headers("lawyer")
    gate_stage(app, 70, "approvals.approved:memo")
    memo, r = send_memo(app, memos, client, seller)
    deal_id = memo.deal_id
    move = {"stage_id": stage_id(app, 70)}
    refused = client.post(f"/api/v1/deals/{deal_id}/stage", json=move, headers=seller)
    assert refused.status_code == 409 and refused.json["code"] == "stage_gate"
    assert refused.json["message"] == "Memo: waiting for approval."
    # The memo changes before the lawyer decides: approving the old version is refused.
    memo.body = b"edited"
    r2 = client.post(f"/api/v1/approvals/{r.json['id']}/approve", json={}, headers=lawyer)
    assert r2.status_code == 409
    client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo.id},
                headers=seller)
    assert client.post(f"/api/v1/approvals/{r.json['id']}/approve", json={},
                       headers=lawyer).status_code == 200
    # Changed after approval: the gate refuses again.
    memo.body = b"edited after approval"
    refused = client.post(f"/api/v1/deals/{deal_id}/stage", json=move, headers=seller)
    assert refused.status_code == 409
    assert "needs approving again" in refused.json["message"]
    memo.body = b"edited"
    ok = client.post(f"/api/v1/deals/{deal_id}/stage", json=move, headers=seller)
    assert ok.status_code == 200


def test_a_second_approval_of_a_decided_request_records_nothing(app, memos, client,
                                                               api_headers, make_app):
    memo, r = send_memo(app, memos, client, api_headers("seller"))
    lawyer = api_headers("lawyer")
    assert client.post(f"/api/v1/approvals/{r.json['id']}/approve", json={},
                       headers=lawyer).status_code == 200
    again = client.post(f"/api/v1/approvals/{r.json['id']}/approve", json={}, headers=lawyer)
    assert again.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApprovalStep).where(
            ApprovalStep.action == "approved")) == 1


def test_the_requester_withdraws_and_nobody_else_may(app, memos, client, api_headers):
    memo, r = send_memo(app, memos, client, api_headers("seller"))
    assert client.post(f"/api/v1/approvals/{r.json['id']}/withdraw", json={},
                       headers=api_headers("lawyer")).status_code == 403
    w = client.post(f"/api/v1/approvals/{r.json['id']}/withdraw", json={"comment": "Not needed"},
                    headers=api_headers("seller"))
    assert w.status_code == 200 and w.json["status"] == "withdrawn"
    assert client.post(f"/api/v1/approvals/{r.json['id']}/withdraw", json={},
                       headers=api_headers("seller")).status_code == 409


def test_requests_and_records_outside_ones_scope_are_404(app, memos, client, api_headers):
    memo, r = send_memo(app, memos, client, api_headers("seller"))
    # seller3 (another team) neither requested, nor approves, nor sees the deal.
    assert client.get(f"/api/v1/approvals/{r.json['id']}",
                      headers=api_headers("seller3")).status_code == 404
    r2 = client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo.id},
                     headers=api_headers("seller3"))
    assert r2.status_code == 404
    r3 = client.post("/api/v1/approvals", json={"resource": "nothing", "record_id": 1},
                     headers=api_headers("seller"))
    assert r3.status_code == 422
    # The manager sees the team's deal, so the request too.
    assert client.get(f"/api/v1/approvals/{r.json['id']}",
                      headers=api_headers("manager")).status_code == 200


def test_approvers_are_notified_in_their_language(app, memos, client, api_headers, users):
    with app.app_context():
        from conveyor.models import User

        db.session.get(User, users["lawyer"]).locale = "ru"
        db.session.commit()
    memo, r = send_memo(app, memos, client, api_headers("seller"))
    with app.app_context():
        notes = list(db.session.scalars(select(Notification).where(
            Notification.user_id == users["lawyer"])))
        assert len(notes) == 1 and notes[0].url == f"/approvals/{r.json['id']}"
        assert "Memo 1" in notes[0].message and "Seller" in notes[0].message
        assert "approve" not in notes[0].message  # written in Russian
    client.post(f"/api/v1/approvals/{r.json['id']}/approve", json={},
                headers=api_headers("lawyer"))
    with app.app_context():
        told = db.session.scalars(select(Notification.message).where(
            Notification.user_id == users["seller"])).all()
        assert told == ["Lawyer approved Memo 1."]


def test_the_queue_lists_oldest_first_and_its_statements_do_not_grow(app, memos, client,
                                                                    api_headers,
                                                                    count_queries):
    seller, lawyer = api_headers("seller"), api_headers("lawyer")
    deal_id = make_deal(app)
    ids = []
    for i in range(3):
        _memo, r = send_memo(app, memos, client, seller, body=f"m{i}".encode(), deal_id=deal_id)
        ids.append(r.json["id"])
    client.get("/api/v1/approvals?page_size=2", headers=lawyer)  # the process's caches warm
    with count_queries() as few:
        page = client.get("/api/v1/approvals?page_size=2", headers=lawyer).json
    assert [i["id"] for i in page["items"]] == ids[:2]
    assert page["pagination"]["next_after"] == ids[1]
    rest = client.get(f"/api/v1/approvals?page_size=2&after={ids[1]}", headers=lawyer).json
    assert [i["id"] for i in rest["items"]] == ids[2:]
    for i in range(3, 12):
        send_memo(app, memos, client, seller, body=f"m{i}".encode(), deal_id=deal_id)
    with count_queries() as more:
        client.get("/api/v1/approvals?page_size=2", headers=lawyer)
    assert len(more) == len(few)


def test_overdue_requests_tell_the_approvers_manager_once(app, memos, client, api_headers,
                                                         users):
    from conveyor.jobs import enqueue_schedules, run_due

    memo, r = send_memo(app, memos, client, api_headers("seller"))
    request_id = r.json["id"]
    with app.app_context():
        db.session.get(ApprovalRequest, request_id).submitted_at = utcnow() - timedelta(days=6)
        db.session.commit()
    for minutes in (0, 61, 122):  # three schedule periods: the sweep runs three times
        enqueue_schedules(app, utcnow() + timedelta(minutes=minutes))
        run_due(app)
    with app.app_context():
        # The lawyers are in no team: the fallback role (admin) hears of it, once.
        told = list(db.session.scalars(select(Notification).where(
            Notification.kind == "approvals.overdue")))
        assert [n.user_id for n in told] == [users["admin"]]
        steps = db.session.scalars(select(ApprovalStep.action).where(
            ApprovalStep.request_id == request_id).order_by(ApprovalStep.id)).all()
        assert steps == ["requested", "escalated"]


def test_working_days_skip_the_weekend():
    from datetime import datetime, timezone

    from conveyor.plugins.approvals.services import working_days_before

    monday = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
    assert working_days_before(monday, 2) == datetime(2026, 11, 26, 9, tzinfo=timezone.utc)
    wednesday = datetime(2026, 12, 2, 9, tzinfo=timezone.utc)
    assert working_days_before(wednesday, 2) == monday


def test_approvers_who_want_mail_get_it_in_their_language(make_app, memos, smtp_server):
    from conveyor.models import User
    from conveyor.testing import token_headers

    app = make_app(plugins=["approvals"], extra_plugins=[("memos", memos)],
                   config=smtp_server.config)
    ids = app.config["TEST_USER_IDS"]
    with app.app_context():
        lawyer = db.session.get(User, ids["lawyer"])
        lawyer.locale, lawyer.email_notifications = "zh_Hans", True
        db.session.commit()
    client = app.test_client()
    memo, r = send_memo(app, memos, client, token_headers(app, "seller"))
    assert r.status_code == 201
    assert len(smtp_server.messages) == 1  # the seller has e-mail notifications off
    msg = smtp_server.messages[0]
    assert msg["To"].addresses[0].addr_spec == "lawyer@example.test"
    assert msg["Subject"] == "Seller 请您审批“Memo 1”。"
    assert f"/approvals/{r.json['id']}" in msg.get_body(("plain",)).get_content()


def test_deleting_a_deal_takes_its_requests_and_history_along(app, memos, client, api_headers):
    memo, r = send_memo(app, memos, client, api_headers("seller"))
    gone = client.delete(f"/api/v1/deals/{memo.deal_id}", headers=api_headers("manager"))
    assert gone.status_code == 204
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApprovalRequest)) == 0
        assert db.session.scalar(select(func.count()).select_from(ApprovalStep)) == 0


def test_history_rows_cannot_be_changed(app, memos, client, api_headers):
    import pytest

    send_memo(app, memos, client, api_headers("seller"))
    with app.app_context():
        step = db.session.scalar(select(ApprovalStep))
        step.comment = "rewritten"
        with pytest.raises(ValueError, match="append-only"):
            db.session.flush()
        db.session.rollback()


def test_a_second_open_request_on_a_record_at_the_same_moment_is_a_conflict(
        app, memos, client, api_headers, monkeypatch):
    """Two requesters at once both find no open request; the partial unique index keeps the
    second out, and it is told so (409), never a 500."""
    from conveyor.plugins.approvals import services

    memo, r = send_memo(app, memos, client, api_headers("seller"))
    assert r.status_code == 201
    memo.body = b"changed"
    monkeypatch.setattr(services, "OPEN", ("none",))  # the second did not see the first
    r2 = client.post("/api/v1/approvals", json={"resource": "memo", "record_id": memo.id},
                     headers=api_headers("manager"))
    assert r2.status_code == 409
    assert r2.json["message"] == "Someone sent this record for approval a moment ago."
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApprovalRequest)) == 1
