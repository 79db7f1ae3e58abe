import pytest


@pytest.fixture
def app(make_app):
    # CSRF stays on: login_as clients send the token, as the pages' forms do.
    return make_app(plugins=["leads", "calls"])
