"""The WSGI entry point: ``gunicorn wsgi:app``, ``flask --app wsgi run``.

Configured like every command, from ``CONVEYOR_*`` variables (``CONVEYOR_DATABASE_URL``,
``CONVEYOR_PLUGINS``, ``CONVEYOR_CONFIG``). ``flask --app wsgi db upgrade`` and the core's other
commands work too: they are attached to ``app.cli`` here.
"""
from conveyor import create_app
from conveyor.cli import add_core_commands

app = create_app()
add_core_commands(app.cli)
