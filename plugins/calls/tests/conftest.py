import pytest


@pytest.fixture
def app(make_app):
    # CSRF is covered by the core's tests; forms are posted here without the token.
    return make_app(plugins=["leads", "calls"], config={"csrf_enabled": False})
