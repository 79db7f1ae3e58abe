"""SSRF: the guarded outbound client refuses internal addresses after DNS and on redirects,
pins the checked address, times out, caps the answer and stores only a generic error."""
from __future__ import annotations

import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conveyor import outbound
from conveyor.outbound import OutboundError, OutboundRefused, check_url, fetch, post_json

FAKE_DNS = {"public.example": ["93.184.216.34"], "evil.example": ["127.0.0.1"],
            "meta.example": ["169.254.169.254"], "mixed.example": ["93.184.216.34", "10.0.0.1"],
            "v6.example": ["::1"], "hook.example": ["127.0.0.1"]}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: Any) -> dict[str, list[str]]:
    real = outbound.resolve

    def resolve(host: str, port: int) -> list[Any]:
        if host in FAKE_DNS:
            return [ipaddress.ip_address(a) for a in FAKE_DNS[host]]
        if host.endswith(".example"):
            raise OSError("Name or service not known")
        return real(host, port)

    monkeypatch.setattr(outbound, "resolve", resolve)
    return FAKE_DNS


class Server:
    """A local HTTP server: ``routes[path] = (status, headers, body, delay)``."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        self.seen: list[tuple[str, str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.seen.append((self.command, self.path, self.headers.get("Host", "")))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, headers, body, delay = server.routes.get(
                    self.path, (404, {}, b"", 0))
                time.sleep(delay)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Any:
    s = Server()
    yield s
    s.close()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost:8080/", "http://[::1]/", "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://172.16.0.1/",
    "http://192.168.0.10/", "http://100.64.0.1/", "http://[::ffff:127.0.0.1]/",
    "http://[fd00::1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://2130706433/",
    "http://evil.example/", "http://meta.example/", "http://mixed.example/",
    "http://v6.example/", "http://[64:ff9b::7f00:1]/"])
def test_internal_addresses_are_refused(app: Any, url: str) -> None:
    with app.app_context(), pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert "private or internal network" in refused.value.public


@pytest.mark.parametrize("url", ["ftp://public.example/", "file:///etc/passwd",
                                 "gopher://public.example/", "http://user:pw@public.example/",
                                 "http:///nohost", "http://[::1/"])
def test_only_plain_http_urls(app: Any, url: str) -> None:
    with app.app_context(), pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert refused.value.public == "Give an http:// or https:// address."


def test_public_addresses_pass_and_unknown_hosts_do_not(app: Any) -> None:
    with app.app_context():
        assert check_url("https://public.example/hook")[2] == ipaddress.ip_address(
            "93.184.216.34")
        with pytest.raises(OutboundRefused) as refused:
            check_url("https://nowhere.example/")
    assert "does not resolve" in refused.value.public


def test_the_allow_list_takes_names_and_networks(make_app: Any) -> None:
    app = make_app(config={"outbound_allowed_hosts": ["evil.example", "10.0.0.0/8"]})
    with app.app_context():
        check_url("http://evil.example/")
        check_url("http://10.9.9.9:8080/")
        check_url("http://mixed.example/")
        with pytest.raises(OutboundRefused):
            check_url("http://meta.example/")
        with pytest.raises(OutboundRefused):
            check_url("http://127.0.0.1/")


def test_it_connects_to_the_checked_address_with_the_host_name(make_app: Any, server: Any) -> None:
    app = make_app(config={"outbound_allowed_hosts": ["hook.example"]})
    server.routes["/hook"] = (200, {}, b"ok", 0)
    with app.app_context():
        answer = post_json(f"http://hook.example:{server.port}/hook", {"a": 1})
    assert answer.status == 200 and answer.body == b"ok"
    assert server.seen == [("POST", "/hook", f"hook.example:{server.port}")]


def test_redirects_are_checked_again(make_app: Any, server: Any) -> None:
    app = make_app(config={"outbound_allowed_hosts": ["127.0.0.1"]})
    base = f"http://127.0.0.1:{server.port}"
    server.routes["/to-meta"] = (302, {"Location": "http://169.254.169.254/latest/"}, b"", 0)
    server.routes["/to-evil"] = (307, {"Location": "http://mixed.example/x"}, b"", 0)
    server.routes["/ok"] = (303, {"Location": "/done"}, b"", 0)
    server.routes["/done"] = (200, {}, b"done", 0)
    server.routes["/loop"] = (302, {"Location": "/loop"}, b"", 0)
    with app.app_context():
        for path in ("/to-meta", "/to-evil"):
            with pytest.raises(OutboundRefused):
                fetch("POST", base + path, body=b"{}")
        answer = fetch("POST", base + "/ok", body=b"{}")
        assert answer.body == b"done" and server.seen[-1][0] == "GET"
        with pytest.raises(OutboundError):
            fetch("GET", base + "/loop")


def test_timeouts_size_cap_and_one_generic_message(make_app: Any, server: Any) -> None:
    app = make_app(config={"outbound_allowed_hosts": ["127.0.0.1"], "outbound_timeout": 1,
                           "outbound_max_bytes": 1000})
    base = f"http://127.0.0.1:{server.port}"
    server.routes["/slow"] = (200, {}, b"late", 3)
    server.routes["/big"] = (200, {}, b"x" * 5000, 0)
    server.routes["/500"] = (500, {}, b"internal details", 0)
    publics = set()
    with app.app_context():
        start = time.monotonic()
        for url in (base + "/slow", base + "/big", base + "/500",
                    "http://127.0.0.1:1/closed-port"):
            with pytest.raises(OutboundError) as failed:
                post_json(url, {})
            assert not isinstance(failed.value, OutboundRefused)
            publics.add(failed.value.public)
        assert time.monotonic() - start < 3
    assert publics == {"Delivery failed: the address did not answer or did not accept the data."}


def test_proxy_variables_are_ignored(make_app: Any, server: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://169.254.169.254:80")
    monkeypatch.setenv("http_proxy", "http://169.254.169.254:80")
    app = make_app(config={"outbound_allowed_hosts": ["127.0.0.1"]})
    server.routes["/x"] = (200, {}, b"direct", 0)
    with app.app_context():
        assert fetch("GET", f"http://127.0.0.1:{server.port}/x").body == b"direct"


# --- the groups plugin's webhooks ---------------------------------------------------------


@pytest.fixture
def groups_app(make_app: Any) -> Any:
    return make_app(plugins=["groups"])


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/",
                                 "http://evil.example/hook", "http://[::1]:22/"])
def test_a_webhook_to_an_internal_address_is_refused_when_saved(groups_app: Any,
                                                                url: str) -> None:
    from conveyor.testing import token_headers

    client = groups_app.test_client()
    headers = token_headers(groups_app, "marketer")
    response = client.post("/api/v1/groups/", json={"name": "G", "webhook_url": url},
                           headers=headers)
    assert response.status_code == 422
    assert "private or internal network" in str(response.get_json()["errors"]["json"][
        "webhook_url"])
    ok = client.post("/api/v1/groups/", json={"name": "G", "webhook_url":
                                              "https://public.example/hook"}, headers=headers)
    assert ok.status_code == 201


def test_a_host_that_turns_internal_after_saving_is_refused_when_called(
        groups_app: Any, fake_dns: dict[str, list[str]]) -> None:
    from conveyor.extensions import db
    from conveyor.plugins.groups.models import GroupPush
    from conveyor.testing import token_headers

    client = groups_app.test_client()
    headers = token_headers(groups_app, "marketer")
    fake_dns["rebind.example"] = ["93.184.216.34"]
    gid = client.post("/api/v1/groups/", json={"name": "G", "webhook_url":
                                               "http://rebind.example/hook"},
                      headers=headers).get_json()["id"]
    fake_dns["rebind.example"] = ["127.0.0.1"]  # DNS changed since
    accepted = client.post(f"/api/v1/groups/{gid}/push", headers=headers)
    assert accepted.status_code == 202
    with groups_app.app_context():
        push = db.session.get(GroupPush, accepted.get_json()["id"])
        assert push.status == "failed"
        assert push.error == ("This address is not allowed: it points into a private or "
                              "internal network.")
