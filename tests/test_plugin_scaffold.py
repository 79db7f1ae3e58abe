"""`conveyor plugin new NAME` writes a plugin that installs with pip and passes its own tests."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conveyor.cli import cli
from conveyor.plugin_scaffold import ScaffoldError, create_plugin
from conveyor.testing import build_and_install


def test_the_new_plugin_installs_and_its_tests_pass_on_the_spot(tmp_path):
    result = CliRunner().invoke(cli, ["plugin", "new", "field_notes", "--dir", str(tmp_path),
                                      "--title", "Field notes"])
    assert result.exit_code == 0, result.output
    root = tmp_path / "conveyor-field-notes"
    package = root / "conveyor_field_notes"
    for part in ("plugin.py", "models.py", "forms.py", "views.py", "api.py", "schemas.py",
                 "events.py", "widgets.py", "migrations/versions/field_notes_0001_notes.py",
                 "templates/field_notes/index.html",
                 "translations/ru/LC_MESSAGES/messages.mo",
                 "translations/zh_Hans/LC_MESSAGES/messages.mo"):
        assert (package / part).is_file(), part
    assert 'field_notes = "conveyor_field_notes.plugin"' in (root / "pyproject.toml").read_text()
    site = build_and_install(root, tmp_path / "build")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.parametrize("name", ["Hello", "1st", "a", "with-dash", "class", "x" * 40])
def test_a_name_that_cannot_be_a_package_is_refused(tmp_path, name):
    with pytest.raises(ScaffoldError):
        create_plugin(name, tmp_path)


def test_an_existing_folder_is_never_overwritten(tmp_path):
    create_plugin("memo", tmp_path)
    with pytest.raises(ScaffoldError, match="exists"):
        create_plugin("memo", tmp_path)
