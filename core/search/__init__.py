"""Search across kinds of records: customers, contacts, deals and what plugins add.

:mod:`.index` builds the database index of a kind (FTS5 / pg_trgm), with the pairs of its
words (:mod:`.pairs`), :mod:`.terms` reads a typed query, :mod:`.kinds` names what is searched,
:mod:`.engine` runs it within the record rules, :mod:`.views` and :mod:`.api` answer the header
box, the results page, the suggestions and ``/api/v1/search``.
"""
from __future__ import annotations

from .index import SearchIndex, SearchSetupError, create_search_index, drop_search_index
from .kinds import SearchHit, SearchKind

__all__ = ["SearchHit", "SearchIndex", "SearchKind", "SearchSetupError", "create_search_index",
           "drop_search_index"]
