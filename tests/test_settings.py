"""Configuration layers: defaults.toml < CONVEYOR_CONFIG < CONVEYOR_* < create_app(config)."""
from __future__ import annotations

from conveyor import Setting, hookimpl, setting
from conveyor.settings import load_config


def test_defaults_are_commented_and_loaded():
    cfg = load_config()
    assert cfg["plugins"] == ["leads", "calls", "groups", "funnel", "relationships", "documents",
                              "approvals", "discussions", "activities"]
    assert cfg["demo"] is False


def test_environment_and_file_override(tmp_path, monkeypatch):
    extra = tmp_path / "site.toml"
    extra.write_text('page_size = 20\nplugins = ["funnel"]\n', encoding="utf-8")
    monkeypatch.setenv("CONVEYOR_CONFIG", str(extra))
    monkeypatch.setenv("CONVEYOR_PAGE_SIZE", "30")
    monkeypatch.setenv("CONVEYOR_PLUGINS", "leads, funnel")
    cfg = load_config({"default_currency": "RUB"})
    assert cfg["page_size"] == 30 and cfg["plugins"] == ["leads", "funnel"]
    assert cfg["default_currency"] == "RUB"


class Greeter:
    @hookimpl
    def register_settings(self):
        return [Setting("greeter.greeting", default="Hi", type=str, doc="How to greet"),
                Setting("greeter.times", default=1, type=int, doc="How often")]


def test_plugin_settings_default_config_and_env(make_app, monkeypatch):
    monkeypatch.setenv("CONVEYOR_GREETER_TIMES", "3")
    app = make_app(config={"greeter": {"greeting": "Привет"}},
                   extra_plugins=[("greeter", Greeter())])
    with app.app_context():
        assert setting("greeter.greeting") == "Привет"
        assert setting("greeter.times") == 3
        assert setting("page_size") == 50


def test_no_default_secret_outside_tests(tmp_path, monkeypatch):
    from conveyor import create_app

    monkeypatch.delenv("CONVEYOR_SECRET_KEY", raising=False)
    app = create_app(config={"database_url": "sqlite://"}, plugins=[],
                     instance_path=str(tmp_path / "inst"))
    key = app.config["SECRET_KEY"]
    assert len(key) >= 32 and (tmp_path / "inst" / "secret_key").read_text().strip() == key
    again = create_app(config={"database_url": "sqlite://"}, plugins=[],
                       instance_path=str(tmp_path / "inst"))
    assert again.config["SECRET_KEY"] == key
