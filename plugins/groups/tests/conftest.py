import pytest

from conveyor import crm
from conveyor.extensions import db
from conveyor.models import Contact, User


@pytest.fixture
def app(make_app):
    # CSRF stays on: login_as clients send the token, as the pages' forms do.
    return make_app(plugins=["leads", "groups"])


@pytest.fixture
def make_customer(app):
    """``make_customer("Acme", contacts=[(name, email, phone)], industry=...)`` -> id."""

    def make(name, owner="seller", contacts=(), **fields):
        with app.app_context():
            by = db.session.get(User, app.config["TEST_USER_IDS"][owner])
            c = crm.create_customer({"name": name, **fields}, by)
            for cname, email, phone in contacts:
                db.session.add(Contact(customer=c, name=cname, email=email, phone=phone))
            db.session.commit()
            return c.id

    return make


@pytest.fixture
def api(app, api_headers):
    """``api("marketer")`` -> a test client sending that user's bearer token."""

    def client_for(username):
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = api_headers(username)["Authorization"]
        return client

    return client_for
