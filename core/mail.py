"""E-mail as a core service: :func:`send_mail` queues a message as an outbox row in the caller's
transaction; the ``core.send_mail`` job sends it through the configured SMTP server (settings
``smtp_*`` and ``mail_from``), retried with backoff, failures shown to an admin.

Texts are written in the recipient's language: give lazy strings (``_l(...)``) or callables
(``lambda: render_template(...)``) and they are rendered under the recipient's locale.
With no ``smtp_host`` (the demo, a laptop) messages are written to the log instead.
"""
from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import force_locale

from .jobs import enqueue

if TYPE_CHECKING:  # building and sending happen in the mail job, not in a web request:
    import smtplib  # smtplib and email.message (~0.7 MB) are imported there
    from email.message import EmailMessage

log = logging.getLogger("conveyor.mail")
MAIL_JOB = "core.send_mail"


@dataclass(frozen=True)
class Attachment:
    """A file to attach: its bytes, or a path read when the message is sent."""

    filename: str
    content_type: str = "application/octet-stream"
    data: bytes | None = None
    path: str | None = None

    def as_payload(self) -> dict[str, Any]:
        if self.data is None and self.path is None:
            raise ValueError(f"attachment {self.filename!r} has neither data nor path")
        return {"filename": self.filename, "content_type": self.content_type,
                "data": base64.b64encode(self.data).decode() if self.data is not None else None,
                "path": self.path}


def _address_and_locale(to: Any, locale: str | None) -> tuple[str, str]:
    from .crm import recipient_locale

    if isinstance(to, str):
        return to, locale or current_app.config["CONVEYOR"]["default_locale"]
    name = getattr(to, "display_name", "") or getattr(to, "username", "")
    email = getattr(to, "email", None) or ""
    return (formataddr((name, email)) if email else ""), locale or recipient_locale(to)


def _render(value: Any) -> str | None:
    if value is None:
        return None
    return str(value()) if callable(value) else str(value)


def send_mail(to: Any, subject: Any, text: Any, html: Any = None, *,
              attachments: Iterable[Attachment] = (), locale: str | None = None,
              reply_to: str | None = None, key: str | None = None) -> int | None:
    """Queue an e-mail; it is sent after the commit, by a job.

    :param to: a :class:`conveyor.models.User` (their e-mail and language) or an address.
    :param subject, text, html: strings, lazy strings or callables returning a string, rendered
        in the recipient's language (``locale`` overrides it).
    :param key: idempotency key (see :func:`conveyor.enqueue`).
    :return: the outbox row's id; ``None`` when the user has no e-mail address or ``key`` was
        queued before.
    """
    address, lang = _address_and_locale(to, locale)
    if not address:
        return None
    with force_locale(lang):
        rendered = {"subject": _render(subject) or "", "text": _render(text) or "",
                    "html": _render(html)}
    sender = current_app.config["CONVEYOR"]["mail_from"]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return enqueue(MAIL_JOB, key=key, to=address, reply_to=reply_to, locale=lang,
                   message_id=make_msgid(domain=domain),
                   attachments=[a.as_payload() for a in attachments], **rendered)


def encoded_header(text: str, name_length: int) -> str:
    """A header value as RFC 2047 words of at most 75 characters, already folded, with every
    space inside a word. Python 3.11's own folding drops the space between an ASCII run and an
    encoded word ("INV-2026-000123 от" became "INV-2026-000123от") in long Russian and Chinese
    subjects. ASCII text is left to the policy, which folds it right."""
    text = " ".join(text.split())  # no line breaks in a header
    if text.isascii():
        return text
    words, chunk = [], ""
    room = 78 - name_length - 2  # the first line also holds "Subject: "
    for char in text:
        if len(_b_word(chunk + char)) > min(75, room) and chunk:
            words.append(_b_word(chunk))
            chunk, room = "", 77  # later lines start with one space
        chunk += char
    words.append(_b_word(chunk))
    return "\n ".join(words)


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def build_message(to: str, subject: str, text: str, html: str | None, message_id: str,
                  attachments: list[dict[str, Any]], reply_to: str | None = None,
                  locale: str = "en") -> EmailMessage:
    """The MIME message: text, an HTML alternative when given, then the attachments."""
    from email.message import EmailMessage

    config = current_app.config["CONVEYOR"]
    msg = EmailMessage()
    msg["From"] = config["mail_from"]
    msg["To"] = to
    msg.set_raw("Subject", encoded_header(subject, len("Subject")))
    msg["Message-ID"] = message_id  # the same on every retry: receivers can drop duplicates
    if reply_to:
        msg["Reply-To"] = reply_to
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    for item in attachments:
        data = (base64.b64decode(item["data"]) if item.get("data") is not None
                else Path(item["path"]).read_bytes())
        maintype, _, subtype = (item.get("content_type") or "application/octet-stream") \
            .partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=item["filename"])
    msg["Content-Language"] = locale.replace("_", "-")  # after the body: set_content resets it
    return msg


def deliver_mail(to: str, subject: str, text: str, message_id: str, html: str | None = None,
                 attachments: list[dict[str, Any]] | None = None, reply_to: str | None = None,
                 locale: str = "en") -> None:
    """The ``core.send_mail`` job: one message through SMTP (raising makes the outbox retry)."""
    msg = build_message(to, subject, text, html, message_id, attachments or [], reply_to, locale)
    config = current_app.config["CONVEYOR"]
    host = config.get("smtp_host") or ""
    if not host:
        log.info("no smtp_host: mail not sent\n%s", msg.as_string()[:4000])
        return
    with smtp_connection(config) as smtp:
        smtp.send_message(msg)


def smtp_connection(config: dict[str, Any]) -> smtplib.SMTP:
    """A connected, authenticated SMTP client per ``smtp_security`` (none, starttls, ssl)."""
    import smtplib
    import ssl

    host, port = config["smtp_host"], int(config["smtp_port"])
    security = (config.get("smtp_security") or "none").lower()
    timeout = float(config.get("smtp_timeout", 30))
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if security == "starttls":
            smtp.starttls(context=context)
    if config.get("smtp_user"):
        smtp.login(config["smtp_user"], config.get("smtp_password") or "")
    return smtp

