"""gunicorn settings for Conveyor's web processes:

    gunicorn -c python:conveyor.config.gunicorn --workers 4 --bind 127.0.0.1:8000 \
        "conveyor.app:create_app()"

Options given on the command line still override these. What they do, and why (measured in
``bench/results/memory-s0.1.md``):

- ``preload_app``: the master imports and builds the app once, then forks the workers, so the
  ~80 MB of modules, models, routes and schemas are shared copy-on-write instead of loaded by
  every worker. A worker's RSS still counts those shared pages; its PSS/USS (what it really
  costs) drop. The price: a code upgrade needs a full restart (``systemctl restart``), since
  ``kill -HUP`` re-forks workers from the master's old code.
- the models' mappers are configured by the master (``configure_mappers()``, ~2.5 MB of
  relationship loaders and mapper internals that the first query of each worker would otherwise
  build in every worker).
- the default language's locale data (Babel's CLDR tables for it and ``root``, ~4 MB of dicts
  every page that formats a date, number or amount needs) is read by the master, so the workers
  share it instead of each unpickling its own copy on its first request.
- ``gc.freeze()`` once the app is loaded: the garbage collector's passes in a worker would
  otherwise write to the header of every preloaded object and un-share its page.
- after the fork each worker drops the connection pools it inherited (none are opened while
  loading; a plugin's ``startup`` hook might), so no database socket is used by two processes.
"""
from __future__ import annotations

import gc
from typing import Any

preload_app = True


def when_ready(server: Any) -> None:
    """The app is loaded (``preload_app``) and no worker forked yet: configure the mappers and
    read the default language's locale data (what every worker's first requests would otherwise
    build for itself), then move every object made so far out of the collector's reach, so that
    the workers' collections leave their pages shared."""
    cfg = getattr(server, "cfg", None)
    app = server.app.wsgi() if cfg is not None and cfg.preload_app else None
    if app is not None and "sqlalchemy" in getattr(app, "extensions", {}):
        from sqlalchemy.orm import configure_mappers

        configure_mappers()
    default_locale = getattr(app, "config", {}).get("BABEL_DEFAULT_LOCALE")
    if default_locale:
        from babel import localedata

        if localedata.exists(default_locale):
            localedata.load(default_locale)  # cached by Babel for the process (and its forks)
    gc.collect()
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """Forget the pooled database connections inherited from the master, without closing them
    (closing would end the master's sessions too)."""
    app = server.app.wsgi() if server.cfg.preload_app else None
    if app is None or not hasattr(app, "app_context"):
        return
    from conveyor.extensions import db

    if "sqlalchemy" not in app.extensions:
        return
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
