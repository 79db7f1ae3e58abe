"""The one HTTP client for requests the server makes on a user's behalf (webhooks now).

A user-supplied URL must not turn the server into a proxy into its own network (SSRF). Every
request goes through :func:`fetch`, which:
- takes ``http``/``https`` URLs only;
- resolves the host itself and refuses it if **any** address is loopback, private, link-local
  (cloud metadata at 169.254.169.254 included), shared (100.64/10), multicast, reserved or
  otherwise not global — unless the host or its network is in ``outbound_allowed_hosts``;
- connects to the very address it checked (no second lookup a DNS rebinding could change),
  with the host name kept for ``Host`` and TLS certificate checks;
- follows at most ``max_redirects`` redirects, checking each new URL the same way;
- gives up after ``outbound_timeout`` seconds per connect/read and reads at most
  ``outbound_max_bytes`` of the answer;
- ignores ``HTTP(S)_PROXY`` variables.

Failures raise :class:`OutboundError` whose ``public`` message is generic — store and show that
one; the detail (which port refused, what timed out) goes to the log only, so the stored error
can't be used to scan the network. :func:`check_url` runs the same address check alone: call it
when a URL is saved, to refuse it with a field message (422) before it is ever called.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from flask import current_app, has_app_context

log = logging.getLogger("conveyor.outbound")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
REDIRECTS = (301, 302, 303, 307, 308)


class OutboundError(Exception):
    """A request that did not succeed. ``public``: a generic text to store and show."""

    def __init__(self, detail: str, public: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.public = public or failed_message()


class OutboundRefused(OutboundError):
    """The URL is not one the server may call (scheme, or an internal address)."""


def failed_message() -> str:
    from .i18n import _

    return _("Delivery failed: the address did not answer or did not accept the data.")


def _refused_message() -> str:
    from .i18n import _

    return _("This address is not allowed: it points into a private or internal network.")


def _unresolvable_message() -> str:
    from .i18n import _

    return _("This address could not be found (its host name does not resolve).")


def _scheme_message() -> str:
    from .i18n import _

    return _("Give an http:// or https:// address.")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


@dataclass
class Limits:
    allowed: list[str] = field(default_factory=list)
    timeout: float = 10.0
    max_bytes: int = 1024 * 1024


def limits() -> Limits:
    if not has_app_context():
        return Limits()
    cfg = current_app.config["CONVEYOR"]
    return Limits(allowed=list(cfg.get("outbound_allowed_hosts") or []),
                  timeout=float(cfg.get("outbound_timeout") or 10),
                  max_bytes=int(cfg.get("outbound_max_bytes") or 1024 * 1024))


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (tests replace this to fake DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return (not address.is_global or address.is_multicast or address.is_reserved
            or address.is_unspecified or address.is_loopback or address.is_link_local
            or address.is_private)


def _allowed(host: str, address: IPAddress, allowed: list[str]) -> bool:
    for entry in allowed:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_url(url: str, allowed: list[str] | None = None) -> tuple[str, int, IPAddress]:
    """(host, port, the address to connect to) for a URL the server may call; else raise
    :class:`OutboundRefused` with a field message (a scheme, an internal address, no DNS)."""
    allowed = limits().allowed if allowed is None else allowed
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused(f"unparsable URL {url!r}", _scheme_message()) from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise OutboundRefused(f"scheme or host of {url!r}", _scheme_message())
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise OutboundRefused(f"cannot resolve {host!r}: {exc}", _unresolvable_message()) \
            from None
    if not addresses:
        raise OutboundRefused(f"no address for {host!r}", _unresolvable_message())
    for address in addresses:
        if _internal(address) and not _allowed(host, address, allowed):
            raise OutboundRefused(f"{host!r} resolves to internal {address}", _refused_message())
    return host, port, addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore


def fetch(method: str, url: str, *, body: bytes | None = None,
          headers: dict[str, str] | None = None, timeout: float | None = None,
          max_bytes: int | None = None, max_redirects: int = 3) -> Response:
    """One guarded request (see the module's docstring); any status is returned as is."""
    conf = limits()
    timeout = timeout or conf.timeout
    max_bytes = max_bytes or conf.max_bytes
    headers = {"User-Agent": "Conveyor", **(headers or {})}
    for _hop in range(max_redirects + 1):
        host, port, address = check_url(url, conf.allowed)
        parts = urlsplit(url)
        cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        conn = cls(host, port, str(address), timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise OutboundError(f"{url}: answer larger than {max_bytes} bytes")
            answer_headers = {k.lower(): v for k, v in answer.getheaders()}
        except OutboundError:
            raise
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise OutboundError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
        location = answer_headers.get("location")
        if answer.status in REDIRECTS and location:
            url = urljoin(url, location)
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            continue
        return Response(answer.status, answer_headers, data, url)
    raise OutboundError(f"more than {max_redirects} redirects from {url}")


def post_json(url: str, payload: Any, timeout: float | None = None) -> Response:
    """POST ``payload`` as JSON; a non-2xx answer is an :class:`OutboundError` too."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    response = fetch("POST", url, body=body, timeout=timeout,
                     headers={"Content-Type": "application/json; charset=utf-8"})
    if not 200 <= response.status < 300:
        raise OutboundError(f"POST {url}: HTTP {response.status}")
    return response
