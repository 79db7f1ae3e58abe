import pytest


@pytest.fixture
def app(make_app):
    # CSRF is covered by the core's tests; here forms are posted as a browser would, minus the token.
    return make_app(plugins=["leads", "calls"], config={"csrf_enabled": False})
