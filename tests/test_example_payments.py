"""examples/conveyor-payments, the scaffold's output grown into a real plugin: built as a wheel,
installed, and its own test suite run against this Conveyor (on PostgreSQL too in CI)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conveyor.testing import build_and_install

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "conveyor-payments"


def test_the_payments_example_installs_and_passes_its_tests(tmp_path):
    site = build_and_install(EXAMPLE, tmp_path)
    assert (site / "conveyor_payments" / "translations" / "ru" / "LC_MESSAGES" /
            "messages.mo").is_file()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                          str(EXAMPLE / "tests")], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "9 passed" in run.stdout
