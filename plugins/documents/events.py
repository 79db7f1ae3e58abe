"""Events the documents plugin emits. Other plugins (approvals) refer to a document by its id
and to one exact file by ``DocumentFile.id`` + ``sha256``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor import Event


@dataclass
class DocumentCreated(Event):
    """A document got its number (status draft)."""

    document: Any
    by: Any = None


@dataclass
class DocumentVersionAdded(Event):
    """A new file version was rendered (``file``: the DOCX's ``DocumentFile``, with sha256)."""

    document: Any
    file: Any
    by: Any = None


@dataclass
class DocumentFinalized(Event):
    """The document became final: its newest files are the ones that count from now on."""

    document: Any
    file: Any
    by: Any = None


@dataclass
class DocumentSent(Event):
    """The document was queued for e-mailing to ``to``."""

    document: Any
    to: str
    by: Any = None


@dataclass
class DocumentStatusChanged(Event):
    """Cancelled, or sent back for changes (``changes_requested``)."""

    document: Any
    old: str
    new: str
    by: Any = None


EVENTS = [DocumentCreated, DocumentVersionAdded, DocumentFinalized, DocumentSent,
          DocumentStatusChanged]
