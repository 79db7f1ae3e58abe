"""/healthz: what load balancers and monitors poll, open to anyone."""
from __future__ import annotations

from pathlib import Path

from conveyor import create_app
from conveyor.extensions import db


def test_healthz_answers_200_with_the_database_ok(client):
    response = client.get("/healthz")  # not signed in: the endpoint is public
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["backend"] in ("sqlite", "postgresql")


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path: Path):
    unreachable = f"sqlite:///{tmp_path}/no/such/folder/conveyor.db"
    app = create_app(config={"database_url": unreachable, "secret_key": "test"}, plugins=[],
                     instance_path=str(tmp_path / "instance"))
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "error"
        assert body["database"].startswith("error: ") and "no/such" not in body["database"]
    finally:
        with app.app_context():
            db.engine.dispose()
