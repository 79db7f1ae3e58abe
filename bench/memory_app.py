"""gunicorn's entry point for ``bench_memory.py``: the app as a deployment builds it, without the
bench harness.

``common.bench_wsgi_app`` would import ``common`` into the measured worker, and with it
``flask.testing`` (click.testing, pdb), ``statistics``, ``subprocess``, ``dataclasses``,
``platform``, ... — ~2 MB of RSS that a production worker never loads. This module imports only
the app, on the same settings as ``common.make_bench_app`` (the environment ``common.served``
sets: ``BENCH_APP_URL``, ``BENCH_APP_PLUGINS``, ``BENCH_APP_CONFIG``), plus ``/_bench/modules``:
which of ``HEAVY`` the worker has imported, asked once the warm-up is over.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# Libraries only some requests need, or heavy enough to be worth knowing whether one is loaded.
HEAVY = ("psycopg", "lxml.etree", "docx", "docxtpl", "icalendar", "markdown_it", "nh3",
         "phonenumbers", "num2words", "redis", "rq", "sqlalchemy.dialects.postgresql",
         "flask_migrate", "babel.dates", "flask_smorest", "apispec")


def memory_wsgi_app() -> Any:
    """The app on the bench database (no rate limits, CSRF on), as ``make_bench_app`` builds it
    minus its reference routes (which ``bench_memory`` does not request)."""
    from conveyor.app import create_app
    from conveyor.permissions import public

    plugins = [p for p in os.environ.get("BENCH_APP_PLUGINS", "").split(",") if p]
    config = json.loads(os.environ.get("BENCH_APP_CONFIG") or "{}")
    instance = Path(__file__).resolve().parent / "data" / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    app = create_app(config={"database_url": os.environ["BENCH_APP_URL"], "secret_key": "bench",
                             "plugins": plugins, "ratelimit_enabled": False, **config},
                     plugins=plugins, instance_path=str(instance))

    @public
    def modules() -> dict[str, Any]:
        cli = [m for m in sys.modules if m.startswith("conveyor") and m.endswith(("cli", "_cli"))]
        harness = [m for m in ("common", "bench_memory")
                   if m in sys.modules]
        return {**{m: m in sys.modules for m in HEAVY}, "cli modules": cli,
                "harness modules": harness}

    app.add_url_rule("/_bench/modules", "bench_modules", modules)
    return app
