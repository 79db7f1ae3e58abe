"""Backups you can restore: the database and the documents' storage folder, in one directory.

``conveyor backup DIR`` writes
- ``database.sqlite3`` — SQLite's online backup API: a consistent copy while the app runs
  (readers and the writer go on; WAL included), or
- ``database.pgdump`` — ``pg_dump --format=custom`` (one consistent snapshot, compressed),
- ``files/`` — a copy of the storage folder (``--storage-dir``, default the ``storage_dir``
  setting when there is one), and
- ``manifest.json`` — when, which engine and plugins, and a SHA-256 per file.

``conveyor restore DIR`` puts them back: SQLite through the same backup API into the live file,
PostgreSQL with ``pg_restore --clean --if-exists --single-transaction``, and the folder replaced
as a whole (the new copy is built beside it, then swapped in). The manifest's checksums are
verified before anything is touched.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from glob import glob
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url

MANIFEST = "manifest.json"


class BackupError(RuntimeError):
    """Said to the operator; nothing was changed when a restore raises it."""


def _engine(app: Flask) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()


def _sqlite_path(app: Flask) -> str:
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return path


def _libpq_url(app: Flask) -> str:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``: from PATH, else the newest Debian server's bin folder."""
    found = shutil.which(name) or next(iter(sorted(
        glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client)")
    return found


def default_storage_dir(app: Flask) -> str | None:
    value = app.config["CONVEYOR"].get("storage_dir")
    return str(value) if value else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _sha256(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


def backup(app: Flask, target: str | os.PathLike[str], storage_dir: str | None = None
           ) -> dict[str, Any]:
    """Write a backup into the new directory ``target``; returns its manifest."""
    out = Path(target)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    engine = _engine(app)
    if engine == "sqlite":
        dump = out / "database.sqlite3"
        source = sqlite3.connect(_sqlite_path(app), timeout=30)
        copy = sqlite3.connect(dump)
        try:
            with copy:
                source.backup(copy)  # online: pages copied under SQLite's own locking
        finally:
            copy.close()
            source.close()
    elif engine == "postgresql":
        dump = out / "database.pgdump"
        _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              f"--file={dump}", f"--dbname={_libpq_url(app)}"])
    else:
        raise BackupError(f"no backup for the {engine} engine")
    storage = storage_dir or default_storage_dir(app)
    files: dict[str, str] = {}
    if storage:
        src = Path(storage)
        if not src.is_dir():
            raise BackupError(f"storage folder {src} does not exist")
        shutil.copytree(src, out / "files")
        files = _files(out / "files")
    manifest = {"format": 1, "created_at": datetime.now(UTC).isoformat(), "engine": engine,
                "database": dump.name, "database_sha256": _sha256(dump),
                "storage_dir": str(storage) if storage else None, "files": files,
                "plugins": list(app.config["CONVEYOR"].get("plugins", []))}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                encoding="utf-8")
    return manifest


def read_manifest(source: str | os.PathLike[str]) -> dict[str, Any]:
    folder = Path(source)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} is not a Conveyor backup ({exc})") from None
    dump = folder / manifest.get("database", "")
    if not dump.is_file() or _sha256(dump) != manifest.get("database_sha256"):
        raise BackupError(f"{dump} is missing or damaged (checksum differs)")
    if manifest.get("files") and _files(folder / "files") != manifest["files"]:
        raise BackupError(f"{folder / 'files'} differs from the manifest")
    return manifest


def restore(app: Flask, source: str | os.PathLike[str], storage_dir: str | None = None
            ) -> dict[str, Any]:
    """Replace the database (and the storage folder) with the backup in ``source``."""
    from .extensions import db

    folder = Path(source)
    manifest = read_manifest(folder)
    engine = _engine(app)
    if manifest["engine"] != engine:
        raise BackupError(f"the backup is of {manifest['engine']}, the app runs {engine}")
    storage = storage_dir or default_storage_dir(app) or manifest.get("storage_dir")
    if manifest.get("files") and not storage:
        raise BackupError("the backup holds files: give --storage-dir")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # no pooled connection keeps the old schema or a lock
    dump = folder / manifest["database"]
    if engine == "sqlite":
        source_db = sqlite3.connect(dump)
        live = sqlite3.connect(_sqlite_path(app), timeout=30)
        try:
            with live:
                source_db.backup(live)
        finally:
            live.close()
            source_db.close()
    else:
        _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", "--exit-on-error", f"--dbname={_libpq_url(app)}",
              str(dump)])
    if storage and (manifest.get("files") or (folder / "files").is_dir()):
        _replace_folder(folder / "files", Path(storage))
    return manifest


def _replace_folder(src: Path, dest: Path) -> None:
    """``dest`` becomes a copy of ``src``: built beside it, then swapped in."""
    staging = dest.with_name(dest.name + ".restoring")
    old = dest.with_name(dest.name + ".before-restore")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(src, staging)
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shown = [c if not c.startswith("--dbname=") else "--dbname=…" for c in command]
        raise BackupError(f"{' '.join(shown)} failed: {result.stderr.strip()[-2000:]}")
