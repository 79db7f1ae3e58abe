"""Configuration: defaults.toml < CONVEYOR_CONFIG file < CONVEYOR_* environment < create_app()."""
from __future__ import annotations

import os
import secrets
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from .contrib import Setting

ENV_PREFIX = "CONVEYOR_"


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged configuration dict (lower-case keys, plugin tables as sub-dicts)."""
    cfg = tomllib.loads(resources.files("conveyor.config").joinpath("defaults.toml").read_text())
    extra = os.environ.get(ENV_PREFIX + "CONFIG")
    if extra:
        _merge(cfg, tomllib.loads(Path(extra).read_text(encoding="utf-8")))
    for key in list(cfg):
        if isinstance(cfg[key], dict):
            continue
        env = os.environ.get(ENV_PREFIX + key.upper())
        if env is not None:
            cfg[key] = _coerce(env, type(cfg[key]))
    _merge(cfg, overrides or {})
    if isinstance(cfg.get("plugins"), str):
        cfg["plugins"] = cfg["plugins"].replace(",", " ").split()
    return cfg


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _coerce(raw: str, kind: type) -> Any:
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    if kind is list:
        return raw.replace(",", " ").split()
    return raw


def apply_flask_config(app: Flask, cfg: dict[str, Any]) -> None:
    """Translate Conveyor's keys into the Flask extensions' own."""
    url = cfg.get("database_url") or "sqlite:///" + os.path.join(app.instance_path, "conveyor.db")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY=cfg.get("secret_key") or _instance_secret(app),
        BABEL_DEFAULT_LOCALE=cfg["default_locale"],
        BABEL_DEFAULT_TIMEZONE=cfg["default_timezone"],
        RATELIMIT_STORAGE_URI=cfg["ratelimit_storage_uri"],
        RATELIMIT_ENABLED=cfg.get("ratelimit_enabled", True),
        WTF_CSRF_ENABLED=cfg.get("csrf_enabled", True),
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=cfg.get("testing", False),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        API_TITLE="Conveyor",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH=None,
        MAX_CONTENT_LENGTH=cfg.get("max_content_length", 64 * 1024 * 1024),
    )
    # Compiled SQL kept per engine: every distinct statement the pages run is ~40 KB compiled, and
    # SQLAlchemy's default of 500 lets a worker grow by ~15 MB over a tour of every page.
    engine_options: dict[str, Any] = {"query_cache_size": int(cfg.get("sql_cache_size", 500))}
    if url.startswith("sqlite"):
        engine_options["connect_args"] = {"timeout": 30}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    app.config["CONVEYOR"] = cfg


def _instance_secret(app: Flask) -> str:
    """A random key kept in the instance folder, so there is never a default secret."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def resolve_settings(cfg: dict[str, Any], declared: list[Setting]) -> dict[str, Any]:
    """Values of declared plugin settings: default < config table < environment."""
    values: dict[str, Any] = {}
    for setting in declared:
        plugin, _, name = setting.key.partition(".")
        value = setting.default
        table = cfg.get(plugin)
        if isinstance(table, dict) and name in table:
            value = table[name]
        env = os.environ.get(f"{ENV_PREFIX}{plugin.upper()}_{name.upper()}")
        if env is not None:
            value = _coerce(env, setting.type)
        if value is not None and setting.type in (int, float, bool, str) and not isinstance(
            value, setting.type
        ):
            value = _coerce(str(value), setting.type)
        values[setting.key] = value
    return values


def setting(key: str) -> Any:
    """The current value of a declared setting (``setting("leads.stale_days")``)."""
    state = current_app.extensions["conveyor"]
    if key in state.settings:
        return state.settings[key]
    return current_app.config["CONVEYOR"][key]
