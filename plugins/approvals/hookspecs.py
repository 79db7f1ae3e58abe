"""Hooks the approvals plugin asks other plugins to answer (named in its Manifest).

A plugin whose records need approving (documents: contracts, quotes) registers them as
approvable resources; no implementation means nothing of that kind can be sent for approval.
Implement it with ``@hookimpl(optionalhook=True)`` so the plugin still loads without approvals.
"""
from __future__ import annotations

from typing import Any

from conveyor import hookspec


@hookspec
def register_approvables() -> list[Any]:
    """Kinds of records that can be sent for approval.

    :return: a list of :class:`conveyor.plugins.approvals.resources.Approvable`: ``name`` (the resource,
        e.g. ``"contract"``; also the gate ``approvals.approved:<name>``), ``label``,
        ``load(record_id, user)`` — the record when ``user`` may see it under the record rules
        (``None`` otherwise; ``user=None`` means the system: gates and jobs), ``version(record)``
        — what an approval binds to, e.g. the file's sha256, so a changed record needs
        approving again —, ``title(record)``, ``url(record)``, ``deal_id(record)`` (the deal
        it belongs to, for stage gates and the deal card, or ``None``) and ``approver``, the
        default rule: ``Approver.of_role("lawyer")``, ``Approver.of_user(id)`` or
        ``Approver.manager()``; optional ``terms(version)`` — the version as labelled figures
        (``Term(label, amount=, currency=)`` or ``Term(label, ratio=)``) that the request's
        page formats in the reader's locale, or ``None`` to show the version as stored.
    """
