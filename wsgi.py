"""The WSGI entry point: ``gunicorn wsgi:app``, ``flask --app wsgi run``.

Configured like every command, from ``CONVEYOR_*`` variables (``CONVEYOR_DATABASE_URL``,
``CONVEYOR_PLUGINS``, ``CONVEYOR_CONFIG``). ``flask --app wsgi db upgrade`` and the core's other
commands work too: ``create_app`` attaches them to ``app.cli``.
"""
from conveyor import create_app

app = create_app()
