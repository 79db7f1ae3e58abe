"""Document numbers per kind and year: gap-free, never reused, safe under concurrency.

One counter row per (kind, year) is created if missing (INSERT … ON CONFLICT DO NOTHING) and
then incremented with ``UPDATE … RETURNING`` inside the transaction that inserts the document.
The UPDATE's row lock makes a concurrent writer wait for our commit (PostgreSQL) — SQLite
serialises writers anyway — and a rollback gives the number back with everything else."""
from __future__ import annotations

from sqlalchemy import update

from conveyor import db, setting

from .models import Counter

PREFIXES = {"contract": "CTR", "invoice": "INV", "act": "ACT", "offer": "OFR"}


def next_seq(kind: str, year: int) -> int:
    """Take the next number of (kind, year) in the current transaction."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":  # imported by the first number only
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(Counter).values(kind=kind, year=year, last=0)
                    .on_conflict_do_nothing(index_elements=["kind", "year"]))
    return int(session.execute(
        update(Counter).where(Counter.kind == kind, Counter.year == year)
        .values(last=Counter.last + 1).returning(Counter.last)).scalar_one())


def format_number(kind: str, year: int, seq: int) -> str:
    """``documents.number_format`` filled in: ``{prefix}-{year}-{seq:06d}`` → INV-2026-000123."""
    return str(setting("documents.number_format")).format(
        prefix=PREFIXES.get(kind, kind.upper()), kind=kind, year=year, seq=seq)
