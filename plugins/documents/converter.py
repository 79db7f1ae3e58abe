"""The warm PDF converter: LibreOffice run by unoserver, which needs a Python that imports
``uno`` (Debian's /usr/bin/python3 with python3-uno) while unoserver itself is installed in our
environment — so the server runs under the system Python with our site-packages on its path.
Started by ``conveyor documents converter`` or, in the demo, on the first request."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sysconfig
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"


def libreoffice_installed() -> bool:
    """soffice on the path and a system Python that can import uno."""
    if not shutil.which("soffice") or not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True, check=False)
    return probe.returncode == 0


def server_command(port: int, uno_port: int) -> tuple[list[str], dict[str, str]]:
    """The unoserver command line and its environment."""
    site = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (site, os.environ.get("PYTHONPATH", "")) if p)}
    return ([SYSTEM_PYTHON, "-m", "unoserver.server", "--interface", "127.0.0.1",
             "--port", str(port), "--uno-port", str(uno_port)], env)


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def start(port: int, uno_port: int, *, wait: float = 60.0,
          log_path: str | None = None) -> subprocess.Popen[bytes]:
    """Start the converter in the background; returns once it accepts connections (or raises
    after ``wait`` seconds)."""
    command, env = server_command(port, uno_port)
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    if wait and not wait_for_port("127.0.0.1", port, wait):
        stop(process)
        raise RuntimeError(f"the converter did not start within {wait:.0f} s")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a converter started by :func:`start` (and its soffice)."""
    try:
        os.killpg(process.pid, 15)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
