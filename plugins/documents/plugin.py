"""The documents plugin's manifest and hook implementations."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor import Job, Manifest, NavItem, Permission, Schedule, Setting, hookimpl, timeline_kind
from conveyor.i18n import _l

timeline_kind("documents.sent", _l("document sent"))
timeline_kind("documents.send_failed", _l("document not sent"))
timeline_kind("documents.revised", _l("document revised"))

manifest = Manifest(
    title=_l("Documents"),
    description=_l("Contracts, invoices, acts and offers from Word templates, as DOCX and PDF; "
                   "the assistant's paperwork queue and the lawyer's contracts."))


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("documents.storage_dir", "", str,
                "Folder of templates and rendered files (never inside the web root); empty: "
                "<instance>/documents."),
        Setting("documents.number_format", "{prefix}-{year}-{seq:06d}", str,
                "Document numbers: {prefix} (CTR, INV, ACT, OFR), {kind}, {year}, {seq}."),
        Setting("documents.converter", "127.0.0.1:2003", str,
                "host:port of the warm PDF converter (`conveyor documents converter`); empty: "
                "no PDFs."),
        Setting("documents.vat_rate", "0", str,
                "VAT rate in % of lines prefilled from a deal (the deal's amount includes it)."),
        Setting("documents.max_upload_mb", 5, int, "Largest template upload, in MB."),
        Setting("documents.max_unpacked_mb", 50, int,
                "Largest unpacked size of an uploaded template, in MB (zip bombs)."),
        Setting("documents.company_name", "", str,
                "Our company's name until the legal entity page is filled in."),
        Setting("documents.contract_stage", 60, int,
                "Percent of the stage whose entry drafts the deal's contract (and, with the "
                "approvals plugin, sends it to the lawyers); 0: off."),
    ]


@hookimpl
def register_models() -> list[type]:
    from .models import MODELS

    return MODELS


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission("documents.view", _l("See the documents of the deals one may see")),
        Permission("documents.create", _l("Generate, edit, finalise and send documents")),
        Permission("documents.templates", _l("Upload, version and retire document templates")),
        Permission("documents.company", _l("Edit our company's legal entity")),
        Permission("documents.legal", _l("Edit customers' legal details")),
    ]


@hookimpl
def register_role_defaults() -> dict[str, dict[str, list[str]]]:
    every = ["documents.view", "documents.create", "documents.legal"]
    return {
        "assistant": {"permissions": every, "widgets": ["documents.paperwork"]},
        "lawyer": {"permissions": [*every, "documents.templates", "documents.company"],
                   "widgets": ["documents.contracts"]},
        "seller": {"permissions": every},
        "manager": {"permissions": every},
        "admin": {"permissions": [*every, "documents.templates", "documents.company"]},
    }


@hookimpl
def register_nav_items() -> list[NavItem]:
    return [NavItem("documents", _l("Documents"), "documents.index", "documents.view",
                    order=45)]


@hookimpl
def register_widgets() -> list[Any]:
    from .widgets import WIDGETS

    return WIDGETS


@hookimpl
def register_panels() -> list[Any]:
    from .widgets import PANELS

    return PANELS


@hookimpl
def register_events() -> list[type]:
    from .events import EVENTS

    return EVENTS


@hookimpl
def handle_event(event: Any, session: Any) -> None:
    """The contract flow: a deal entering the contract stage gets its contract draft; a
    contract's new version goes back to the lawyers when its approval request is open."""
    from conveyor import DealStageChanged

    if isinstance(event, DealStageChanged):
        from .contracts import on_stage_changed

        on_stage_changed(event)
        return
    from .events import DocumentVersionAdded

    if isinstance(event, DocumentVersionAdded):
        from .contracts import on_version_added

        on_version_added(event)


@hookimpl(optionalhook=True)
def register_approvables() -> list[Any]:
    """Contracts can be sent for approval (the approvals plugin's hook)."""
    from .contracts import approvables

    return approvables()


@hookimpl
def register_jobs() -> list[Job]:
    from .services import bulk_invoice_job, convert_job, sweep_sends

    return [
        Job("documents.convert", convert_job, max_attempts=3, timeout=300,
            title=_l("Convert a document to PDF")),
        Job("documents.bulk_invoice", bulk_invoice_job, max_attempts=3, timeout=900,
            title=_l("Invoice a batch of deals")),
        Job("documents.sweep_sends", sweep_sends, max_attempts=1,
            title=_l("Record delivered and failed document e-mails")),
    ]


@hookimpl
def register_schedules() -> list[Schedule]:
    return [Schedule("documents.sweep_sends", every=timedelta(minutes=2))]


@hookimpl
def register_blueprints(app: Any) -> list[Any]:
    from .views import bp

    return [bp]


@hookimpl
def register_api_blueprints(api: Any) -> list[Any]:
    from .api import BLUEPRINTS

    return BLUEPRINTS


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import documents_group

    cli.add_command(documents_group)


@hookimpl
def startup(app: Any) -> None:
    """In the demo (``conveyor demo``), start the PDF converter on the first request when
    LibreOffice is installed and none is running."""
    state = {"checked": False}

    @app.before_request
    def _demo_converter() -> None:
        if state["checked"]:
            return
        state["checked"] = True
        if not app.config["CONVEYOR"].get("demo") or app.testing:
            return
        from . import converter
        from .services import converter_address, converter_up

        address = converter_address()
        if address is None or converter_up(address) or not converter.libreoffice_installed():
            return
        import atexit
        import threading

        def run() -> None:
            try:
                process = converter.start(address[1], address[1] + 1, wait=120)
                atexit.register(converter.stop, process)  # Ctrl+C on the demo ends it too
                app.logger.info("documents: PDF converter started on port %s", address[1])
            except Exception:  # noqa: BLE001 - the demo runs on without PDFs
                app.logger.exception("documents: the PDF converter did not start")

        threading.Thread(target=run, name="documents-converter", daemon=True).start()


@hookimpl
def seed_demo_data(session: Any, users: dict[str, Any], rng: Any) -> None:
    from .demo import seed

    seed(session, users, rng)
