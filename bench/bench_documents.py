"""Documents: rendering, PDF conversion and bulk invoicing (issue 11, "Speed").

    .venv/bin/python bench/bench_documents.py                 # everything, SQLite in a temp dir
    .venv/bin/python bench/bench_documents.py --bulk 200      # a quicker bulk run
    .venv/bin/python bench/bench_documents.py --no-pdf        # without LibreOffice

Rows:

- **render**: the plugin's render of the built-in Russian invoice (``context_for`` reading the
  deal, customer, legal details, company from the database + ``render_docx``: Jinja's sandbox,
  StrictUndefined, autoescape, babel formatting) against a bare docxtpl render of the same
  template with the same context dict (plain ``Environment``, no database), round-robin.
  Goal: plugin speed ≥ 0.8× bare (ratio = bare median / plugin median).
- **PDF**: the same DOCX through the warm converter (``unoserver`` started once; its start-up
  time is reported) against a cold ``soffice --headless --convert-to pdf`` process per document
  (its profile already created, as on a server). Goal: warm ≥ 5× faster.
- **bulk**: N invoices (default 1,000) for N deals at 70 % by ``start_bulk_invoices``: the chunk
  jobs run in-process after the commit, as without Redis; documents per second, and the
  process's RSS and live Python objects after every 10 % of the deals (neither must grow with
  the count; each chunk job ends with ``malloc_trim``, see ``services.release_memory``). PDF
  jobs find no converter (``documents.converter`` empty), so this times DOCX generation and
  numbering.

Results: ``bench/results/documents.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import gc
import io
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import measure, write_results  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def make_app(tmp: Path, converter: str = "") -> Any:
    from conveyor.app import create_app
    from conveyor.schema import create_tables
    from conveyor.testing import seed_test_data

    app = create_app(config={"database_url": f"sqlite:///{tmp}/bench.db", "secret_key": "bench",
                             "plugins": ["documents"], "ratelimit_enabled": False,
                             "documents": {"storage_dir": str(tmp / "store"),
                                           "converter": converter}},
                     plugins=["documents"], instance_path=str(tmp / "instance"))
    create_tables(app)
    seed_test_data(app)
    return app


def make_deals(app: Any, count: int, percent: int = 70) -> list[int]:
    from conveyor import create_customer, create_deal, db, move_deal
    from conveyor.models import Contact, Stage, User
    from conveyor.plugins.documents.models import LegalDetails

    ids = []
    with app.app_context():
        seller = db.session.query(User).filter_by(username="seller").one()
        stage = db.session.query(Stage).filter(Stage.percent == percent).first()
        for i in range(count):
            customer = create_customer({"name": f"ООО «Ромашка {i}»", "owner_id": seller.id},
                                       by=seller)
            db.session.add(Contact(customer=customer, name="Иван Петров", decision_maker=True,
                                   email="ivan@example.test"))
            db.session.flush()
            db.session.add(LegalDetails(customer_id=customer.id, country="RU",
                                        legal_name=f"ООО «Ромашка {i}»", inn="7707083893",
                                        kpp="773601001", address="Москва"))
            deal = create_deal({"customer_id": customer.id, "title": f"Внедрение CRM {i}",
                                "amount": Decimal("1001000.01"), "currency": "RUB",
                                "owner_id": seller.id}, by=seller)
            db.session.flush()
            move_deal(deal, stage, by=seller)
            ids.append(deal.id)
            if i % 200 == 199:
                db.session.commit()
        db.session.commit()
    return ids


def bench_render(app: Any, rounds: int) -> tuple[list[Any], dict[str, Any], bytes]:
    from docxtpl import DocxTemplate

    from conveyor import db
    from conveyor.models import Deal, User
    from conveyor.plugins.documents.render import render_docx
    from conveyor.plugins.documents.services import (
        builtin_bytes,
        context_for,
        create_document,
    )

    deal_id = make_deals(app, 1)[0]
    template = builtin_bytes("invoice_ru.docx")
    with app.app_context():
        user = db.session.query(User).filter_by(username="seller").one()
        document = create_document(db.session.get(Deal, deal_id), user, kind="invoice",
                                   language="ru")
        db.session.commit()
        document_id = document.id
        context = context_for(document)

        def plugin() -> bytes:
            from conveyor.plugins.documents.models import Document

            db.session.expire_all()  # read the data afresh, as a request would
            doc = db.session.get(Document, document_id)
            return render_docx(template, context_for(doc), "ru")

        def bare() -> bytes:
            tpl = DocxTemplate(io.BytesIO(template))
            tpl.render(context)
            out = io.BytesIO()
            tpl.save(out)
            return out.getvalue()

        timings = measure({"plugin": plugin, "bare docxtpl": bare}, rounds=rounds, warmup=3)
        docx = plugin()
    p, b = timings["plugin"].median, timings["bare docxtpl"].median
    ratio = round(b / p, 2)
    rows = [["render: plugin (DB context + sandbox)", f"{p:.1f}", f"{timings['plugin'].p90:.1f}",
             ""],
            ["render: bare docxtpl, same template and data", f"{b:.1f}",
             f"{timings['bare docxtpl'].p90:.1f}", ""],
            ["render speed, plugin vs bare (goal ≥ 0.8×)", "", "", f"{ratio}×"]]
    return rows, {"render_ratio": ratio, "render_plugin_ms": p, "render_bare_ms": b}, docx


def bench_pdf(docx: bytes, rounds: int) -> tuple[list[Any], dict[str, Any]]:
    from conveyor.plugins.documents import converter
    from conveyor.plugins.documents.services import docx_to_pdf
    from conveyor.testing import free_port

    if not converter.libreoffice_installed():
        return [["PDF: LibreOffice not installed — not measured", "", "", ""]], {}
    port = free_port()
    start = time.perf_counter()
    process = converter.start(port, free_port(), wait=120)
    startup = time.perf_counter() - start
    work = Path(tempfile.mkdtemp(prefix="bench-docs-"))
    source = work / "invoice.docx"
    source.write_bytes(docx)
    profile = work / "profile"
    cold_cmd = ["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                "--convert-to", "pdf", "--outdir", str(work / "out"), str(source)]
    subprocess.run(cold_cmd, capture_output=True, check=True, timeout=120)  # creates the profile
    try:
        docx_to_pdf(docx, ("127.0.0.1", port))  # the first conversion loads the filters
        timings = measure({
            "warm": lambda: docx_to_pdf(docx, ("127.0.0.1", port)),
            "cold": lambda: subprocess.run(cold_cmd, capture_output=True, check=True,
                                           timeout=120),
        }, rounds=rounds, warmup=0)
    finally:
        converter.stop(process)
        shutil.rmtree(work, ignore_errors=True)
    w, c = timings["warm"].median, timings["cold"].median
    ratio = round(c / w, 1)
    rows = [["PDF: converter start-up (unoserver + LibreOffice)", f"{startup * 1000:.0f}", "",
             ""],
            ["PDF: warm converter (in-process UnoClient)", f"{w:.0f}", f"{timings['warm'].p90:.0f}",
             ""],
            ["PDF: cold soffice --convert-to pdf", f"{c:.0f}", f"{timings['cold'].p90:.0f}", ""],
            ["PDF speed, warm vs cold (goal ≥ 5×)", "", "", f"{ratio}×"]]
    return rows, {"pdf_ratio": ratio, "pdf_warm_ms": w, "pdf_cold_ms": c,
                  "converter_startup_s": round(startup, 1)}


def bench_bulk(tmp: Path, count: int) -> tuple[list[Any], dict[str, Any]]:
    from sqlalchemy import func, select, update

    from conveyor import db
    from conveyor.models import User
    from conveyor.plugins.documents.models import Batch, Document
    from conveyor.plugins.documents.services import start_bulk_invoices

    app = make_app(tmp / "bulk", converter="")
    ids = make_deals(app, count)
    samples: list[tuple[int, float]] = []

    with app.app_context():
        user = db.session.query(User).filter_by(username="assistant").one()
        # The batch row and its chunk jobs: committed, but not delivered yet, so the timing
        # below is the jobs alone.
        from conveyor.plugins.documents import services

        batch = start_bulk_invoices(ids, user, "ru")
        batch_id = batch.id
        from conveyor.jobs import NEW  # the rows queued in this transaction

        db.session.info.pop(NEW, None)
        db.session.commit()
    from conveyor.jobs import deliver
    from conveyor.models.outbox import OutboxMessage

    with app.app_context():
        chunk_ids = list(db.session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.job == services.BULK_JOB).order_by(OutboxMessage.id)))
    step = max(1, len(chunk_ids) // 10)
    start = time.perf_counter()
    for index, message_id in enumerate(chunk_ids, 1):
        assert deliver(app, message_id) == "done"
        if index % step == 0 or index == len(chunk_ids):
            gc.collect()
            samples.append((min(index * services.BULK_CHUNK, count), rss_mb(),
                            len(gc.get_objects())))
    elapsed = time.perf_counter() - start
    with app.app_context():
        made = db.session.scalar(select(func.count()).select_from(Document))
        batch = db.session.get(Batch, batch_id)
        done, failed = batch.done, batch.failed
        db.session.execute(update(Batch).values(errors=""))
        db.session.commit()
    assert made == count and failed == 0, (made, failed)
    rate = round(count / elapsed, 1)
    rows = [[f"bulk: {count} invoices in one bulk job (chunks of {services.BULK_CHUNK})",
             f"{elapsed * 1000:.0f}", "", f"{rate} docs/s"]]
    memory = " · ".join(f"{n}: {mb} MB" for n, mb, _ in samples)
    rows.append(["bulk: process RSS after n documents", "", "", memory])
    objects = " · ".join(f"{n}: {o}" for n, _, o in samples)
    rows.append(["bulk: live Python objects after n documents", "", "", objects])
    growth = round(samples[-1][1] - samples[0][1], 1) if samples else 0
    return rows, {"bulk_count": count, "bulk_seconds": round(elapsed, 1), "bulk_docs_per_s": rate,
                  "bulk_rss_mb": samples, "bulk_rss_growth_mb": growth, "batch_done": done}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="rounds of the render timing")
    parser.add_argument("--pdf-rounds", type=int, default=8)
    parser.add_argument("--bulk", type=int, default=1000, help="invoices in the bulk job")
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    try:
        app = make_app(tmp)
        rows, data, docx = bench_render(app, args.rounds)
        if not args.no_pdf:
            pdf_rows, pdf_data = bench_pdf(docx, args.pdf_rounds)
            rows += pdf_rows
            data.update(pdf_data)
        bulk_rows, bulk_data = bench_bulk(tmp, args.bulk)
        rows += bulk_rows
        data.update(bulk_data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    path = write_results("documents", {"database": "SQLite (temp file)",
                                       "rounds": args.rounds, "pdf_rounds": args.pdf_rounds},
                         ["case", "median ms", "p90 ms", "result"], rows, extra_json=data)
    print(path.read_text())


if __name__ == "__main__":
    main()
