"""Files on posts: checked (count, size, type by extension) before anything is written, stored
under ``discussions.storage_dir`` — outside the web root — by SHA-256, served only through a
view that checks the record first."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from conveyor import db, setting
from conveyor.i18n import _

from .models import Attachment

# The type comes from the extension, never from what the browser claims; SVG and HTML are not
# offered at all (they run script when opened).
TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "gif": "image/gif", "txt": "text/plain", "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet", "zip": "application/zip",
}


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def storage_dir() -> Path:
    configured = setting("discussions.storage_dir")
    return Path(configured) if configured else Path(current_app.instance_path) / "discussions"


def allowed_extensions() -> list[str]:
    return [e.strip().lower().lstrip(".") for e in setting("discussions.attachment_types")
            if e.strip().lower().lstrip(".") in TYPES]


def check_files(files: list[Any]) -> list[Upload]:
    """Read and check uploads; raise ``PostError("attachments", …)`` on the first fault."""
    from .services import PostError

    files = [f for f in files if f is not None and getattr(f, "filename", "")]
    if len(files) > setting("discussions.max_attachments"):
        raise PostError("attachments", _("Attach at most %(count)s files to a post.",
                                         count=setting("discussions.max_attachments")))
    limit = setting("discussions.max_attachment_bytes")
    allowed = allowed_extensions()
    uploads = []
    for item in files:
        name = os.path.basename(item.filename.replace("\\", "/")).strip()[:255] or "file"
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        if ext not in allowed:
            raise PostError("attachments", _(
                "%(name)s: this type of file is not accepted (allowed: %(types)s).",
                name=name, types=", ".join(allowed)))
        data = item.stream.read(limit + 1)
        if len(data) > limit:
            raise PostError("attachments", _("%(name)s is larger than %(size)s MB.", name=name,
                                             size=round(limit / 1_048_576, 1)))
        if not data:
            raise PostError("attachments", _("%(name)s is empty.", name=name))
        uploads.append(Upload(name, TYPES[ext], data, hashlib.sha256(data).hexdigest()))
    return uploads


def path_of(sha256: str) -> Path:
    return storage_dir() / sha256[:2] / sha256


def store_files(post: Any, uploads: list[Upload]) -> None:
    """Write each file once (content-addressed, atomically renamed) and add its row."""
    for upload in uploads:
        target = path_of(upload.sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as out:
                out.write(upload.data)
            os.replace(temp, target)
        db.session.add(Attachment(post_id=post.id, filename=upload.filename,
                                  content_type=upload.content_type, size=len(upload.data),
                                  sha256=upload.sha256))
