"""Hooks the discussions plugin asks other plugins to answer (named in its Manifest).

A plugin that wants threads on its records registers them as *discussable*; without the
discussions plugin the hook is simply never called (implement it with
``@hookimpl(optionalhook=True)``).
"""
from __future__ import annotations

from typing import Any

from conveyor import hookspec


@hookspec
def discussions_discussables() -> list[Any]:
    """Record types that carry a discussion thread.

    Called once when the app is built. Import ``Discussable`` inside the implementation, so
    your plugin still loads when discussions is off::

        @hookimpl(optionalhook=True)
        def discussions_discussables():
            from conveyor.plugins.discussions import Discussable

            return [Discussable(
                name="documents", model=Document, permission="documents.view",
                label=lambda doc: doc.title,
                url=lambda doc: url_for("documents.card", document_id=doc.id))]

    ``load(record_id, user)`` defaults to the record under the user's record rules
    (``conveyor.scoped(model, user, permission)``: ``None``, hence 404, when they may not see
    it); ``owner_id(record)`` defaults to ``record.owner_id``; pass your own when the model
    differs. ``target="document"`` also puts the thread panel on a card that renders the
    core's ``register_panels`` for that target.

    :return: a list of ``conveyor.plugins.discussions.Discussable``; ``name`` is the API's
        path segment (``/api/v1/documents/{id}/posts``) and must be unique.
    """
