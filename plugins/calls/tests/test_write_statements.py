"""What logging a call costs in SQL statements (not time): by bearer token, the token's user and
the call's INSERT, then the commit — the answer is printed from what was written, not read
back. (Tests run the event trackers inline after the commit; a deployment runs them in a job,
and only for the events they declare.)"""
from __future__ import annotations

from sqlalchemy import event

from conveyor import db


def test_logging_a_call_runs_two_statements(app, api_headers, count_queries):
    headers = api_headers("telemarketer")
    client = app.test_client()
    body = {"name": "Bench", "phone": "+1 555 0100", "result": "no_answer"}
    assert client.post("/api/v1/calls/", headers=headers, json=body).status_code == 201
    with app.app_context():
        engine = db.engine
    committed: list[int] = []
    with count_queries() as seen:
        mark = lambda _conn: committed.append(len(seen))  # noqa: E731
        event.listen(engine, "commit", mark)
        try:
            response = client.post("/api/v1/calls/", headers=headers, json=body)
        finally:
            event.remove(engine, "commit", mark)
    assert response.status_code == 201, response.json
    seen = seen[:committed[0]]  # the request's own transaction
    kinds = [s.lstrip().split(None, 1)[0].upper() for s in seen]
    assert kinds == ["SELECT", "INSERT"], seen
    assert "FROM calls_call" not in seen[0], seen
    answer = response.json
    assert answer["id"] and answer["name"] == "Bench" and answer["result"] == "no_answer"
    assert answer["owner_id"] and answer["created_at"]


def test_a_call_back_answers_its_time_in_utc(app, api_headers):
    """What the call answers is what was stored (UTC), without reading the row back."""
    client = app.test_client()
    created = client.post("/api/v1/calls/", headers=api_headers("telemarketer"), json={
        "company": "Iberia Foods", "result": "call_back",
        "call_back_at": "2030-01-02T09:00:00+01:00"})
    assert created.status_code == 201, created.json
    assert created.json["call_back_at"].startswith("2030-01-02T08:00:00")
    again = client.get(f"/api/v1/calls/{created.json['id']}",
                       headers=api_headers("telemarketer"))
    assert again.json["call_back_at"] == created.json["call_back_at"]
