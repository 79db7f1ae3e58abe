"""``conveyor documents …``: the PDF converter in the foreground."""
from __future__ import annotations

import signal

import click
from flask.cli import AppGroup

from conveyor import setting

from . import converter


@click.group("documents", cls=AppGroup, help="Documents: the PDF converter.")
def documents_group() -> None:
    pass


@documents_group.command("converter")
@click.option("--port", type=int, default=None,
              help="Port of the converter (default: the port of documents.converter).")
@click.option("--uno-port", type=int, default=None, help="LibreOffice's own port (port + 1).")
def converter_command(port: int | None, uno_port: int | None) -> None:
    """Run LibreOffice kept warm by unoserver until stopped (Ctrl+C). Needs
    libreoffice-writer-nogui and python3-uno; starts in about 10 s."""
    if not converter.libreoffice_installed():
        raise click.ClickException(
            "LibreOffice is not installed (apt-get install libreoffice-writer-nogui python3-uno)"
            ": DOCX still works, PDFs say conversion is unavailable.")
    configured = setting("documents.converter") or "127.0.0.1:2003"
    port = port or int(configured.rpartition(":")[2])
    uno_port = uno_port or port + 1
    click.echo(f"Starting the converter on 127.0.0.1:{port} (LibreOffice on {uno_port})…")
    process = converter.start(port, uno_port, wait=120)
    click.echo("The converter is ready.")

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)  # a supervisor's stop ends LibreOffice too
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        converter.stop(process)
        click.echo("The converter stopped.")
