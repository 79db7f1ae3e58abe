"""Web capture in two steps: store now, finish in batches right after.

``store()`` is what the public endpoint does while the visitor waits: one ``INSERT ... ON
CONFLICT (dedupe_key) DO NOTHING RETURNING id`` and the commit — about the cost of a bare endpoint
inserting one row. The lead is safe from that moment (``processed_at`` is NULL).

``process_pending()`` — the *intake* — finishes such leads a batch at a time: it claims them
(``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``, so two processes never
take the same lead), merges a lead into an older open lead with the same email or phone (its
submission kept as an activity), links known contacts and customers, emits LeadCaptured, hands the
rest to the rules (``assign_batch``: one cursor step of +n per rule) and leaves each seller a
notification — a handful of statements per batch instead of a dozen per lead.

Where the intake runs (setting ``leads.intake``): ``job`` (default) — the core's job queue
(:func:`queue_intake`: one ``leads.intake`` job per second of captures, run by an RQ worker with
``redis_url``, which waits for the burst to end and finishes it in full batches, like ``watch``),
and without ``redis_url`` the ``thread`` below; ``thread`` — a daemon thread in each app
process, woken by every capture; ``external`` — web
processes only store, and a worker process runs ``conveyor leads intake --watch`` (under a
supervisor, like an RQ worker); ``inline`` — in the request (tests, tiny set-ups).
``conveyor leads reassign-stale`` (and the ``leads.sweep`` job) runs it too, so leads a crashed
process left behind are finished by the sweep whatever the mode.
Internal callers (calls, the API, the screens) use ``services.create_lead``, which does all of it
inline.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import delete, func, or_, select, update

from conveyor import db, emit, notify, setting
from conveyor.models import Contact, Customer
from conveyor.queries import written_limit
from conveyor.types import utcnow

from .assignment import assign_batch
from .events import LeadCaptured
from .forms import ASSIGNMENT_REASONS
from .models import OPEN_STATUSES, Lead, LeadForm
from .normalize import normalize_company, normalize_email, normalize_phone, phone_tail
from .services import TEXT_FIELDS, _digits, clean_data, merge_into, normalized
from .texts import _l

log = logging.getLogger("conveyor.leads.intake")
BATCH = 200
THREAD_BATCH = 500  # the in-process intake: fewer, fuller batches
PAUSE = 0.5  # seconds without a new capture (anywhere) after which the in-process intake starts
REST = 0.02  # seconds between its batches, for the request thread
WORKER_BATCH = 1000  # the external worker (``watch``): leads per transaction
LINGER = 0.5  # seconds without a new capture after which the external worker starts
MAX_WAIT = 5.0  # seconds a waiting capture is left at most, however long a burst lasts
_STATEMENTS: dict[str, Any] = {}


@dataclass(frozen=True)
class FormInfo:
    """A capture form as the public endpoint needs it, cached for a few seconds per process."""

    id: int
    key: str
    source: str
    field_names: tuple[str, ...]
    required: tuple[str, ...]
    thank_you_url: str
    allowed_origins: tuple[str, ...]
    rule_id: int | None


def cached_form(key: str) -> FormInfo | None:
    """The active form ``key`` (``leads.form_cache_seconds`` old at most)."""
    cache = current_app.extensions.setdefault("leads_form_cache", {})
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    form = db.session.scalar(select(LeadForm).where(LeadForm.key == key[:60],
                                                    LeadForm.active.is_(True)))
    info = None if form is None else FormInfo(
        form.id, form.key, form.source or form.key, tuple(form.field_names),
        tuple(form.required), form.thank_you_url, tuple(form.allowed_origins or ()),
        form.rule_id)
    ttl = setting("leads.form_cache_seconds")
    if ttl > 0:
        cache[key] = (now + ttl, info)
    return info


def store(data: dict[str, Any], form: FormInfo) -> int:
    """Commit the submission as a lead (or, if an identical one won a race, merge into it)."""
    clean = clean_data(data)
    norm = normalized(clean)
    now = utcnow()
    values = {**{k: "" for k in TEXT_FIELDS}, **clean, **norm, "source": form.source,
              "form_id": form.id, "status": "new", "created_at": now, "updated_at": now}
    table = Lead.__table__
    engine = db.engine
    dialect = engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = _STATEMENTS.get(dialect)
    if statement is None:  # built once: only the parameters change between captures
        statement = _STATEMENTS[dialect] = insert(table).on_conflict_do_nothing(
            index_elements=["dedupe_key"]).returning(table.c.id)
    # The usual case is one statement and its commit, on a pooled connection of its own: no ORM
    # session work for a row nobody reads back in this request.
    with engine.begin() as conn:
        lead_id = conn.execute(statement, values).scalar()
    if lead_id is None:  # an open lead with the same identity exists: merge into it
        twin = db.session.scalar(select(Lead).where(Lead.dedupe_key == norm["dedupe_key"]))
        if twin is None:  # the twin was closed meanwhile: store it anew
            values["dedupe_key"] = None
            lead_id = db.session.execute(insert(table).values(**values)
                                         .returning(table.c.id)).scalar()
        else:
            lead_id = merge_into(twin, clean, norm, source=form.source, form=form).id
        db.session.commit()
    mode = setting("leads.intake")
    if setting("leads.process_inline") or mode == "inline":
        process_pending()
    elif mode == "job" and has_queue():
        queue_intake()
    elif mode in ("thread", "job"):  # "job" without a queue: the same intake in this process
        wake(current_app._get_current_object())  # type: ignore[attr-defined]
    # "external": a worker runs `conveyor leads intake --watch` (or the sweep, from cron)
    return lead_id


def _claim(limit: int) -> list[Lead]:
    """Take up to ``limit`` unfinished captures, oldest first. The ids are picked in a
    materialized CTE: as ``IN (subquery)`` PostgreSQL may rescan a ``LIMIT … FOR UPDATE SKIP
    LOCKED`` subquery and take more rows than the limit."""
    pending = (select(Lead.id).where(Lead.processed_at.is_(None)).order_by(Lead.id)
               .limit(written_limit(limit)))
    if db.session.get_bind().dialect.name == "postgresql":
        pending = pending.with_for_update(skip_locked=True)
    picked = pending.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    ids = list(db.session.scalars(
        update(Lead).where(Lead.id == picked.c.id, Lead.processed_at.is_(None))
        .values(processed_at=utcnow()).returning(Lead.id)
        .execution_options(synchronize_session=False)))
    if not ids:
        return []
    return list(db.session.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id)
                                   .execution_options(populate_existing=True)))


def process_pending(limit: int = BATCH) -> int:
    """Finish up to ``limit`` stored captures in one transaction; returns how many it took."""
    leads = _claim(limit)
    if not leads:
        db.session.rollback()
        return 0
    survivors = _merge_duplicates(leads)
    _link_known(survivors)
    for lead in survivors:
        emit(LeadCaptured(lead=lead, by=None))
    unassigned = [lead for lead in survivors if lead.owner_id is None]
    if unassigned:
        try:
            with db.session.begin_nested():
                assign_batch(unassigned, reason="rule")
        except Exception:  # noqa: BLE001 - stored and processed; the sweep assigns them later
            log.exception("rules failed for %d captured leads", len(unassigned))
    if setting("leads.notify_on_assign"):
        for lead in unassigned:
            if lead.owner_id:
                notify(lead.owner_id, _l("Lead %(label)s is yours now (%(reason)s).",
                                         label=lead.label, reason=ASSIGNMENT_REASONS["rule"]),
                       f"/leads/{lead.id}", "leads.assigned")
    db.session.commit()
    return len(leads)


def _merge_duplicates(leads: list[Lead]) -> list[Lead]:
    """Fold each lead into an older open lead with its email or phone; the rest survive."""
    emails = {lead.email_normalized for lead in leads if lead.email_normalized}
    phones = {lead.phone_e164 for lead in leads if lead.phone_e164}
    by_email: dict[str, Lead] = {}
    by_phone: dict[str, Lead] = {}
    if emails or phones:
        for older in db.session.scalars(
                select(Lead).where(Lead.status.in_(OPEN_STATUSES),
                                   Lead.id.notin_([lead.id for lead in leads]),
                                   or_(Lead.email_normalized.in_(emails),
                                       Lead.phone_e164.in_(phones)))
                .order_by(Lead.id.desc())):
            by_email[older.email_normalized] = older
            by_phone[older.phone_e164] = older
    by_email.pop("", None)
    by_phone.pop("", None)
    survivors = []
    for lead in leads:
        target = (by_email.get(lead.email_normalized) if lead.email_normalized else None) or (
            by_phone.get(lead.phone_e164) if lead.phone_e164 else None)
        if target is not None and target.id < lead.id and target.is_open:
            clean = {k: getattr(lead, k) for k in TEXT_FIELDS if getattr(lead, k)}
            norm = normalized(clean) if clean else {}
            form = db.session.get(LeadForm, lead.form_id) if lead.form_id else None
            db.session.execute(delete(Lead).where(Lead.id == lead.id))
            db.session.expunge(lead)
            merge_into(target, clean, norm, source=lead.source, form=form)
            continue
        survivors.append(lead)
        if lead.email_normalized:
            by_email.setdefault(lead.email_normalized, lead)
        if lead.phone_e164:
            by_phone.setdefault(lead.phone_e164, lead)
    return survivors


def _link_known(leads: list[Lead]) -> None:
    """Known contacts (email, phone) and customers (tax id, company name), two queries a batch."""
    todo = [lead for lead in leads if lead.customer_id is None]
    emails = {lead.email_normalized for lead in todo if lead.email_normalized}
    tails = {phone_tail(lead.phone_e164) for lead in todo if lead.phone_e164}
    region = setting("leads.default_region")
    if emails or tails:
        conds = [func.lower(Contact.email).in_(emails)] if emails else []
        conds += [_digits(Contact.phone).like("%" + tail) for tail in tails]
        contacts = db.session.execute(select(Contact.id, Contact.customer_id, Contact.email,
                                             Contact.phone).where(or_(*conds)).limit(written_limit(5000))).all()
        by_email = {normalize_email(c.email): c for c in contacts if c.email}
        by_phone = {normalize_phone(c.phone, region): c for c in contacts if c.phone}
        for lead in todo:
            hit = by_email.get(lead.email_normalized) if lead.email_normalized else None
            hit = hit or (by_phone.get(lead.phone_e164) if lead.phone_e164 else None)
            if hit is not None:
                lead.customer_id, lead.contact_id = hit.customer_id, hit.id
    todo = [lead for lead in todo if lead.customer_id is None and (
        lead.company_normalized or lead.tax_id)]
    if not todo:
        return
    conds = [Customer.tax_id.in_({lead.tax_id for lead in todo if lead.tax_id})]
    # each distinct token once: a batch's companies share words, and PostgreSQL tests every
    # pattern against every customer row
    tokens = {max(lead.company_normalized.split(" "), key=len)
              for lead in todo if lead.company_normalized}
    for token in sorted(tokens):
        conds += [func.lower(Customer.name).contains(token, autoescape=True),
                  Customer.name.contains(token.capitalize(), autoescape=True)]
    customers = db.session.execute(select(Customer.id, Customer.name, Customer.tax_id)
                                   .where(or_(*conds)).limit(written_limit(5000))).all()
    by_name = {normalize_company(c.name): c.id for c in customers}
    by_tax = {c.tax_id: c.id for c in customers if c.tax_id}
    for lead in todo:
        lead.customer_id = by_tax.get(lead.tax_id) if lead.tax_id else None
        lead.customer_id = lead.customer_id or by_name.get(lead.company_normalized)


# --- the intake as a job ----------------------------------------------------------------------

_queued: dict[str, int] = {}  # per process: the last second a job was queued for


def has_queue() -> bool:
    """Whether jobs go to workers on a queue (``redis_url`` set). Without one the core runs a
    job in the web process right after the response, where the intake's wait for the burst to
    end would hold a request worker: the intake then runs in the process's own thread."""
    return current_app.extensions.get("conveyor_jobs_backend") is not None


def queue_intake() -> None:
    """Queue a ``leads.intake`` job for this second's captures — once per second and process
    (and once per second in all, by the idempotency key), so a burst's captures are finished by
    a few jobs in full batches instead of one job each. Called only with a queue: the job is due
    at once, a worker takes it and the job itself waits for the burst to end (``intake_job``),
    so no scheduler round stands between a capture and its seller."""
    from conveyor import enqueue

    second = int(time.time())
    if _queued.get("second") == second:
        return
    _queued["second"] = second
    enqueue("leads.intake", key=f"leads.intake:{second}")
    db.session.commit()


def intake_job() -> None:
    """The ``leads.intake`` job: wait until captures stop arriving (``LINGER`` seconds without
    one, ``MAX_WAIT`` at most), then finish those waiting, ``WORKER_BATCH`` per transaction.
    A job that finds nothing waiting (an earlier one of the burst took it all) costs a count."""
    stop = threading.Event()
    waiting = _pending_count()
    if waiting:
        _settle(waiting, stop, LINGER, MAX_WAIT)
        finish_waiting(WORKER_BATCH, stop)


# --- the per-process worker ---------------------------------------------------------------------


class _Worker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.event = threading.Event()
        self.halt = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name="leads-intake", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Finish the current batch and end the thread (tests; a clean shutdown)."""
        self.stopping = True
        self.halt.set()
        self.event.set()
        self.thread.join(timeout)

    def run(self) -> None:
        """Once woken, wait until captures stop arriving — in every process: the count of
        waiting captures stops growing for ``PAUSE`` seconds, ``MAX_WAIT`` at most (``_settle``,
        as the worker does) — then finish them in full batches with a short rest between
        batches. The thread shares the GIL and the cores with the request threads: during a
        burst it keeps out of their way, and many small back-to-back batches cost more than a
        few full ones."""
        while not self.stopping:
            self.event.wait(timeout=5)
            self.event.clear()
            try:
                with self.app.app_context():
                    try:
                        waiting = _pending_count()
                        if waiting:
                            _settle(waiting, self.halt, PAUSE, MAX_WAIT)
                            finish_waiting(THREAD_BATCH, self.halt, REST)
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 - keep the worker alive; the sweep is the backstop
                log.exception("lead intake failed; retrying")
                time.sleep(1)


_lock = threading.Lock()


def wake(app: Flask) -> None:
    """Start this process's intake thread if needed (after a fork too) and nudge it."""
    worker = app.extensions.get("leads_intake")
    if worker is None or not worker.thread.is_alive():
        with _lock:
            worker = app.extensions.get("leads_intake")
            if worker is None or not worker.thread.is_alive():
                worker = app.extensions["leads_intake"] = _Worker(app)
    worker.event.set()


def drain(limit: int = BATCH) -> int:
    """Process every pending capture now, ``limit`` per transaction (the sweep, tests)."""
    total = 0
    while n := process_pending(limit):
        total += n
    return total


def _pending_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(Lead)
                              .where(Lead.processed_at.is_(None)))
    db.session.rollback()  # no snapshot held open while waiting
    return int(count or 0)


def _settle(waiting: int, stop: threading.Event, linger: float, max_wait: float) -> None:
    """Return once no capture arrived for ``linger`` seconds, or after ``max_wait``."""
    started = time.monotonic()
    while linger and not stop.is_set() and time.monotonic() - started < max_wait:
        stop.wait(min(linger, max(0.0, max_wait - (time.monotonic() - started))))
        now = _pending_count()
        if now <= waiting:
            return
        waiting = now


def finish_waiting(batch: int, stop: threading.Event, rest: float = 0.0) -> int:
    """Finish the captures waiting now, ``batch`` per transaction — not those arriving
    meanwhile: they are the next burst, and wait for it to end in turn (a drain loop would
    chase a burst that is still coming)."""
    left, done = _pending_count(), 0
    while left > 0 and not stop.is_set():
        n = process_pending(min(batch, left))
        if not n:
            break
        left, done = left - n, done + n
        if rest:
            stop.wait(rest)
    return done


def watch(interval: float = 0.2, stop: threading.Event | None = None,
          linger: float = LINGER, max_wait: float = MAX_WAIT) -> None:
    """The external worker's loop: poll every ``interval`` seconds; once captures are waiting,
    wait until none arrived for ``linger`` seconds (``max_wait`` at most), then finish them all
    in batches of ``WORKER_BATCH``. A burst is then answered first and finished right after in
    a few full batches, instead of one small batch per poll competing with it for the cores (a
    batch's statements cost about the same for 50 leads as for 500)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            waiting = _pending_count()
            if waiting:
                _settle(waiting, stop, linger, max_wait)
                finish_waiting(WORKER_BATCH, stop)
            else:
                stop.wait(interval)
        except Exception:  # noqa: BLE001 - a worker keeps going; the sweep is the backstop
            log.exception("lead intake failed; retrying")
            db.session.rollback()
            stop.wait(1)
        finally:
            db.session.remove()
