"""Files on disk under the storage folder (setting ``documents.storage_dir``), named by their
SHA-256 and never overwritten. The folder must not be inside the web root: files leave only
through the views that apply the deal's record rules."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import current_app

from conveyor import setting


def storage_root() -> Path:
    """The storage folder (created on first use); ``instance/documents`` when unset."""
    configured = setting("documents.storage_dir")
    root = Path(configured) if configured else Path(current_app.instance_path) / "documents"
    root = root.resolve()
    static = current_app.static_folder
    if static and root.is_relative_to(Path(static).resolve()):
        raise RuntimeError("documents.storage_dir must not be inside the web root")
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store(data: bytes, folder: str, suffix: str) -> tuple[str, str]:
    """Write ``data`` once; returns (relative path, sha256). Same content, same file."""
    digest = sha256(data)
    relative = f"{folder}/{digest[:2]}/{digest}.{suffix}"
    path = storage_root() / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return relative, digest


def absolute(relative: str) -> Path:
    path = (storage_root() / relative).resolve()
    if not path.is_relative_to(storage_root()):
        raise ValueError("path outside the storage folder")
    return path
