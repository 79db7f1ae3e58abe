"""A group out to mailing services: a streamed CSV, or JSON batches POSTed to a webhook.

Both read :func:`services.iter_export_batches` — keyset batches with unsubscribed addresses
already removed in SQL — so memory stays constant and no unsubscribed address leaves.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context

from conveyor import db, emit, setting
from conveyor.csv_export import BOM, csv_line
from conveyor.i18n import _
from conveyor.models import User
from conveyor.outbound import OutboundError, failed_message, post_json
from conveyor.types import utcnow

from .events import GroupPushRequested
from .models import Group, GroupPush
from .services import EXPORT_COLUMNS, GroupError, iter_export_batches

log = logging.getLogger("conveyor.groups")


def csv_chunks(group: Group, user: Any, batch: int) -> Iterator[str]:
    """A BOM and the header, then one chunk per batch; every cell through ``safe_cell`` (no
    spreadsheet formulas; phone numbers stay as they are)."""
    yield BOM + csv_line(EXPORT_COLUMNS)
    for rows in iter_export_batches(group, user, batch):
        yield "".join(csv_line(row[c] for c in EXPORT_COLUMNS) for row in rows)


def csv_response(group: Group, user: Any) -> Response:
    """The group's addresses as CSV, streamed batch by batch."""
    chunks = csv_chunks(group, user, setting("groups.batch_size"))
    return Response(stream_with_context(chunks), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="group-{group.id}.csv"',
        "Cache-Control": "no-store"})


# --- webhook push ----------------------------------------------------------------------------


def request_push(group: Group, *, by: Any) -> GroupPush:
    """Record a push and emit the event that runs it after commit."""
    if not group.webhook_url:
        raise GroupError("webhook_url", _("This group has no webhook address."))
    push = GroupPush(group_id=group.id, by_id=by.id, url=group.webhook_url, status="queued",
                     requested_at=utcnow())
    db.session.add(push)
    db.session.flush()
    emit(GroupPushRequested(group_id=group.id, push_id=push.id, by_id=by.id))
    return push


def _with_last(batches: Iterable[list[dict[str, str]]]
               ) -> Iterator[tuple[list[dict[str, str]], bool]]:
    """Each batch with a flag saying it is the last (one batch of look-ahead)."""
    previous = None
    for batch in batches:
        if previous is not None:
            yield previous, False
        previous = batch
    yield (previous or []), True


def run_push(push_id: int) -> GroupPush | None:
    """Send a queued push; runs once (a retried tracker finds it no longer queued).

    The outcome — rows sent, batches, the error if any — is stored on the push and shown on
    the group's page; a failure is also logged.
    """
    push = db.session.get(GroupPush, push_id)
    if push is None or push.status != "queued":
        return push
    group = db.session.get(Group, push.group_id)
    user = db.session.get(User, push.by_id) if push.by_id else None
    push.status = "running"
    db.session.commit()
    sent = batches_sent = 0
    try:
        if group is None or user is None:
            raise GroupError("group", "the group or the person who asked is gone")
        batches = iter_export_batches(group, user, setting("groups.batch_size"))
        for number, (rows, last) in enumerate(_with_last(batches), start=1):
            post_json(push.url, {"group": {"id": group.id, "name": group.name,
                                           "kind": group.kind},
                                 "batch": number, "last": last, "rows": rows},
                      timeout=setting("groups.webhook_timeout"))
            sent, batches_sent = sent + len(rows), number
        status, error = "ok", ""
    except Exception as exc:  # noqa: BLE001 - recorded on the push, shown to the marketer
        db.session.rollback()
        log.warning("push %s of group %s to %s failed: %s", push_id, push.group_id, push.url, exc)
        # Only a generic text is stored and shown: which port refused or what timed out would
        # let the webhook scan the network (conveyor.outbound); the detail is in the log.
        status = "failed"
        error = exc.public if isinstance(exc, OutboundError) else failed_message()
    push = db.session.get(GroupPush, push_id)
    push.status, push.error, push.sent, push.batches = status, error, sent, batches_sent
    push.finished_at = utcnow()
    db.session.commit()
    return push
