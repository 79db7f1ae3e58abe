"""The lead processor's engine: stage a list for preview, then import it.

Two phases, chosen so that "one transaction" and "never block other users" both hold:

1. *Stage* (``stage_import``): decode, parse and validate every row, look up duplicates and known
   customers/contacts, and write the rows into ``leads_import_row`` in batches of
   ``leads.import_batch`` — each batch its own short transaction, progress saved after each.
   Nothing is visible as a lead yet; the preview shows per-row errors.
2. *Import* (``import_rows``): one transaction of a few set-based statements — ``INSERT INTO
   leads_lead ... SELECT ... FROM leads_import_row`` for new leads, one INSERT ... SELECT of
   activities for rows that merge into open leads — so either every valid row is a lead or none.
   Then leads follow the rules in batches (``assign_batch``), each seller notified once.

Both run in a background thread with its own app context and session (``run_job``); production
should run them on a job queue (an RQ worker calls the same functions), and ``conveyor leads
import`` runs them in the foreground.
"""
from __future__ import annotations

import csv
import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import String, cast, func, insert, literal, select, update

from conveyor import db, notify, setting
from conveyor.models import COMPANY_SIZES, Contact, Customer
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .assignment import assign_batch
from .csvread import EMAIL_RE, ReadError, decode, read_rows, too_long
from .models import OPEN_STATUSES, Lead, LeadActivity, LeadAssignment, LeadImport, LeadImportRow
from .normalize import (
    clean_multiline,
    clean_text,
    dedupe_key,
    normalize_company,
    normalize_email,
    normalize_phone,
    phone_tail,
)
from .texts import _l

log = logging.getLogger("conveyor.leads.import")
STALLED_AFTER = timedelta(minutes=5)
ROW_COLUMNS = ("company", "name", "email", "email_normalized", "phone", "phone_e164",
               "company_normalized", "tax_id", "industry", "region", "size", "notes", "products",
               "dedupe_key", "customer_id", "contact_id")


def run_job(fn: Callable[..., Any], *args: Any) -> threading.Thread | None:
    """Run ``fn(*args)`` in a background thread with its own app context and session (or
    inline when ``leads.import_inline`` is set). Tests may join ``app.extensions["leads_jobs"]``."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if setting("leads.import_inline"):
        fn(*args)
        return None

    def target() -> None:
        with app.app_context():
            try:
                fn(*args)
            finally:
                db.session.remove()

    thread = threading.Thread(target=target, name=f"leads-{fn.__name__}", daemon=True)
    app.extensions.setdefault("leads_jobs", []).append(thread)
    thread.start()
    return thread


def is_stalled(job: LeadImport) -> bool:
    return job.status in ("parsing", "importing") and utcnow() - job.updated_at > STALLED_AFTER


def _fail(import_id: int, message: str) -> None:
    db.session.rollback()
    db.session.execute(update(LeadImport).where(LeadImport.id == import_id).values(
        status="failed", message=message[:2000], finished_at=utcnow(), updated_at=utcnow()))
    db.session.commit()


class Lookup:
    """Known people and companies, read once per import, so a row costs no query."""

    def __init__(self) -> None:
        region = setting("leads.default_region")
        self.region = region
        self.contact_email: dict[str, tuple[int, int]] = {}
        self.contact_phone: dict[str, list[tuple[int, int, str]]] = {}
        rows = db.session.execute(select(Contact.id, Contact.customer_id, Contact.email,
                                         Contact.phone).execution_options(yield_per=5000))
        for cid, customer_id, email, phone in rows:
            if email:
                self.contact_email.setdefault(normalize_email(email), (customer_id, cid))
            if phone:
                self.contact_phone.setdefault(phone_tail(phone), []).append(
                    (customer_id, cid, phone))
        self.customer_name: dict[str, int] = {}
        self.customer_tax: dict[str, int] = {}
        for cid, name, tax_id in db.session.execute(
                select(Customer.id, Customer.name, Customer.tax_id)
                .execution_options(yield_per=5000)):
            self.customer_name.setdefault(normalize_company(name), cid)
            if tax_id:
                self.customer_tax.setdefault(tax_id, cid)

    def match(self, row: dict[str, Any]) -> tuple[int | None, int | None]:
        if row["email_normalized"] in self.contact_email:
            return self.contact_email[row["email_normalized"]]
        if row["phone_e164"]:
            tail = phone_tail(row["phone_e164"])
            for customer_id, cid, phone in self.contact_phone.get(tail, ()):
                if normalize_phone(phone, self.region) == row["phone_e164"]:
                    return customer_id, cid
        if row["tax_id"] and row["tax_id"] in self.customer_tax:
            return self.customer_tax[row["tax_id"]], None
        if row["company_normalized"] in self.customer_name:
            return self.customer_name[row["company_normalized"]], None
        return None, None


def validate_row(raw: dict[str, str], region: str) -> tuple[dict[str, Any], list[str]]:
    """A staged row and its errors as ``field|code|argument`` lines (translated when shown)."""
    data = {k: (clean_multiline(v) if k == "notes" else clean_text(v)) for k, v in raw.items()}
    errors = [f"{k}|too_long|" for k in too_long(data)]
    for key in too_long(data):
        data[key] = data[key][:200]  # kept short for the preview only; the row is not imported
    email, phone_raw = data.get("email", ""), data.get("phone", "")
    if email and not EMAIL_RE.match(email):
        errors.append("email|email|")
    phone = normalize_phone(phone_raw, region) if phone_raw else ""
    if phone_raw and not phone:
        errors.append("phone|phone|")
    if data.get("size") and data["size"] not in COMPANY_SIZES:
        errors.append("size|size|")
    if not any(data.get(k) for k in ("company", "name", "email", "phone")):
        errors.append("company|identity|")
    row = {k: data.get(k, "") for k in ("company", "name", "email", "phone", "tax_id", "industry",
                                        "region", "size", "notes", "products")}
    email_n, company_n = normalize_email(email), normalize_company(data.get("company", ""))
    row.update(email_normalized=email_n, phone_e164=phone, company_normalized=company_n,
               dedupe_key=dedupe_key(email_n, phone, company_n))
    return row, errors


def stage_import(import_id: int, raw: bytes, encoding: str = "auto",
                 progress: Callable[[LeadImport], Any] | None = None) -> None:
    """Phase 1: parse, validate and stage rows in short batches; the job ends ``ready``."""
    try:
        text, used = decode(raw, encoding)
    except ReadError as exc:
        return _fail(import_id, f"The file could not be read: {exc}.")
    del raw
    job = db.session.get(LeadImport, import_id)
    job.encoding, job.total_rows = used, max(1, text.count("\n") + 1)
    db.session.commit()
    batch_size, limit = setting("leads.import_batch"), setting("leads.import_max_rows")
    lookup = Lookup()
    seen: dict[str, int] = {}
    counts: Counter[str] = Counter()
    batch: list[dict[str, Any]] = []
    try:
        for row_no, raw_row in read_rows(text):
            counts["rows"] += 1
            if counts["rows"] > limit:
                return _fail(import_id, f"The file has more than {limit} rows; split it.")
            row, errors = validate_row(raw_row, lookup.region)
            key = row["dedupe_key"]
            if key and key in seen and not errors:
                errors.append(f"email|dup_file|{seen[key]}")
            elif key and not errors:
                seen[key] = row_no
            row.update(import_id=import_id, row_no=row_no, errors="\n".join(errors),
                       merge_lead_id=None, customer_id=None, contact_id=None)
            batch.append(row)
            if len(batch) >= batch_size:
                if not _flush_batch(job, batch, lookup, counts, progress):
                    return None
                batch = []
        if batch and not _flush_batch(job, batch, lookup, counts, progress):
            return None
    except csv.Error as exc:
        return _fail(import_id, f"The file is not valid CSV: {exc}.")
    job.total_rows = job.processed
    job.status = "ready"
    db.session.commit()
    if progress:
        progress(job)
    return None


def _flush_batch(job: LeadImport, batch: list[dict[str, Any]], lookup: Lookup,
                 counts: Counter[str], progress: Callable[[LeadImport], Any] | None) -> bool:
    """Match a batch against open leads (one query) and known customers, write it, save
    progress — one short transaction. False when the job was cancelled meanwhile."""
    valid = [r for r in batch if not r["errors"]]
    keys = {r["dedupe_key"] for r in valid if r["dedupe_key"]}
    emails = {r["email_normalized"] for r in valid if r["email_normalized"]}
    phones = {r["phone_e164"] for r in valid if r["phone_e164"]}
    found: dict[str, int] = {}
    if keys or emails or phones:
        for lead_id, key, email, phone in db.session.execute(
                select(Lead.id, Lead.dedupe_key, Lead.email_normalized, Lead.phone_e164)
                .where(Lead.status.in_(OPEN_STATUSES))
                .where(Lead.dedupe_key.in_(keys) | Lead.email_normalized.in_(emails)
                       | Lead.phone_e164.in_(phones)).order_by(Lead.id.desc())):
            for k in (key, "e:" + email if email else None, "p:" + phone if phone else None):
                if k:
                    found[k] = lead_id
    for row in valid:
        email, phone = row["email_normalized"], row["phone_e164"]
        row["merge_lead_id"] = (found.get("e:" + email) if email else None) or (
            found.get("p:" + phone) if phone else None) or found.get(row["dedupe_key"] or "")
        row["customer_id"], row["contact_id"] = lookup.match(row)
    db.session.execute(insert(LeadImportRow), batch)
    job = db.session.get(LeadImport, job.id, populate_existing=True)
    if job.status == "cancelled":
        db.session.rollback()
        return False
    counts["errors"] += sum(1 for r in batch if r["errors"])
    counts["merges"] += sum(1 for r in valid if r["merge_lead_id"])
    job.processed += len(batch)
    job.error_rows = counts["errors"]
    job.merge_rows = counts["merges"]
    job.valid_rows = job.processed - job.error_rows
    job.updated_at = utcnow()
    db.session.commit()
    if progress:
        progress(job)
    return True


def import_rows(import_id: int, progress: Callable[[LeadImport], Any] | None = None) -> None:
    """Phase 2: every valid staged row becomes a lead (or a merge) in one transaction."""
    job = db.session.get(LeadImport, import_id)
    by_id, now = job.created_by_id, utcnow()
    owner = job.owner_id if job.owner_mode == "user" else None
    rows = LeadImportRow.__table__.c
    fresh = select(*[rows[c] for c in ROW_COLUMNS], literal(job.source), literal(import_id),
                   literal("new"), literal(owner), literal(now if owner else None,
                                                           type_=Lead.assigned_at.type),
                   literal(by_id), literal(now, type_=Lead.created_at.type),
                   literal(now, type_=Lead.updated_at.type),
                   literal(now, type_=Lead.processed_at.type)).where(
        rows.import_id == import_id, rows.errors == "", rows.merge_lead_id.is_(None))
    targets = [*ROW_COLUMNS, "source", "import_id", "status", "owner_id", "assigned_at",
               "created_by_id", "created_at", "updated_at", "processed_at"]
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    lead_table = Lead.__table__
    # A duplicate captured since the preview holds the key: skip it here, merge it below.
    db.session.execute(dialect_insert(lead_table).from_select(targets, fresh)
                       .on_conflict_do_nothing(index_elements=["dedupe_key"]))
    taken = select(lead_table.c.id).where(lead_table.c.dedupe_key == rows.dedupe_key,
                                          func.coalesce(lead_table.c.import_id, 0) != import_id)
    db.session.execute(update(LeadImportRow).where(
        LeadImportRow.import_id == import_id, LeadImportRow.errors == "",
        LeadImportRow.merge_lead_id.is_(None), LeadImportRow.dedupe_key.isnot(None))
        .where(taken.exists()).values(merge_lead_id=taken.scalar_subquery())
        .execution_options(synchronize_session=False))
    note = (literal(f"import #{import_id} ({job.source}), row ") + cast(rows.row_no, String)
            + literal(": ") + rows.company + literal(" ") + rows.name + literal(" ")
            + rows.email + literal(" ") + rows.phone + literal(" ") + rows.notes)
    db.session.execute(insert(LeadActivity.__table__).from_select(
        ["lead_id", "by_id", "kind", "note", "at"],
        select(rows.merge_lead_id, literal(by_id), literal("merged"), note,
               literal(now, type_=LeadActivity.at.type)).where(
            rows.import_id == import_id, rows.errors == "", rows.merge_lead_id.isnot(None))))
    if owner:
        db.session.execute(insert(LeadAssignment.__table__).from_select(
            ["lead_id", "owner_id", "reason", "detail", "by_id", "at"],
            select(lead_table.c.id, literal(owner), literal("import"),
                   literal(f"import #{import_id}"), literal(by_id),
                   literal(now, type_=LeadAssignment.at.type))
            .where(lead_table.c.import_id == import_id)))
    job.imported = db.session.scalar(select(func.count()).select_from(lead_table)
                                     .where(lead_table.c.import_id == import_id))
    job.merged = db.session.scalar(select(func.count()).select_from(LeadImportRow).where(
        LeadImportRow.import_id == import_id, LeadImportRow.errors == "",
        LeadImportRow.merge_lead_id.isnot(None)))
    job.assigned = job.imported if owner else 0
    job.updated_at = utcnow()
    db.session.commit()  # the one transaction: all valid rows, or nothing
    if progress:
        progress(job)
    if job.owner_mode == "rules":
        _assign_imported(job, progress)
    db.session.execute(LeadImportRow.__table__.delete().where(
        rows.import_id == import_id, rows.errors == ""))  # keep the error rows for the report
    job.status, job.finished_at, job.updated_at = "done", utcnow(), utcnow()
    db.session.commit()
    if progress:
        progress(job)


def _assign_imported(job: LeadImport, progress: Callable[[LeadImport], Any] | None) -> None:
    """Hand the imported leads to the rules a batch at a time; one notification per seller."""
    per_owner: Counter[int] = Counter()
    after = 0
    while True:
        leads = list(db.session.scalars(select(Lead).where(
            Lead.import_id == job.id, Lead.owner_id.is_(None), Lead.id > after)
            .order_by(Lead.id).limit(written_limit(500))))
        if not leads:
            break
        after = leads[-1].id
        for owner_id in assign_batch(leads, reason="rule", detail=f"import #{job.id}",
                                     events=False):
            per_owner[owner_id] += 1
        job.assigned = sum(per_owner.values())
        job.updated_at = utcnow()
        db.session.commit()
        if progress:
            progress(job)
    if setting("leads.notify_on_assign"):
        for owner_id, count in per_owner.items():
            notify(owner_id, _l("Leads from list #%(id)s (%(source)s) given to you: %(count)s.",
                                id=job.id, source=job.source, count=count),
                   f"/leads/?owner={owner_id}&status=new", "leads.assigned")
        db.session.commit()


def start_import(raw: bytes, *, source: str, by: Any, filename: str = "", encoding: str = "auto",
                 owner_mode: str = "rules", owner_id: int | None = None) -> LeadImport:
    """Create the job and stage it (in the background unless inline)."""
    job = LeadImport(created_by_id=getattr(by, "id", None), source=source[:80],
                     filename=filename[:255], owner_mode=owner_mode,
                     owner_id=owner_id if owner_mode == "user" else None, status="parsing")
    db.session.add(job)
    db.session.commit()
    run_job(_guarded(stage_import), job.id, raw, encoding)
    return job


def start_commit(job: LeadImport) -> bool:
    """Begin phase 2 if the job is ready (or an import was interrupted before its commit)."""
    claimed = db.session.execute(update(LeadImport).where(
        LeadImport.id == job.id, (LeadImport.status == "ready") | (
            (LeadImport.status == "importing") & (LeadImport.imported == 0)
            & (LeadImport.updated_at < utcnow() - STALLED_AFTER)))
        .values(status="importing", updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if claimed != 1:
        return False
    run_job(_guarded(import_rows), job.id)
    return True


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    def job(import_id: int, *args: Any) -> None:
        try:
            fn(import_id, *args)
        except Exception as exc:  # noqa: BLE001 - recorded on the job for the person waiting
            log.exception("lead import %s failed", import_id)
            _fail(import_id, f"The import stopped: {exc.__class__.__name__}.")

    job.__name__ = fn.__name__
    return job
