"""The shipped nginx file hides what browsers need not see (issue 14), run for real.

nginx (Debian package) with ``deploy/nginx/myelo-cds.conf`` in front of one ``asgi.py`` replica
on SQLite, on loopback: Streamlit's internal routes are not passed on, the host configuration is
nginx's own, no version is shown, only Mozilla's "intermediate" TLS suites are offered, and the
access log never holds a query string (a consult's URL carries its draft token).
"""

from __future__ import annotations

import json
import socket
import ssl
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from tests.e2e.live_app import LiveServer, live_server
from tests.nginx_fixture import Proxy, nginx_or_fail, running_nginx
from tests.streamlit_ws import insecure_tls

TLS = insecure_tls()
TOKEN = "dRaFt-T0ken-4b1c9e"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[LiveServer, Proxy]]:
    nginx_or_fail()
    folder = Path(tempfile.mkdtemp(prefix="myelo-cds-proxy-hardening-"))
    with live_server(folder / "replica.log", script="asgi.py", db_path=folder / "records.sqlite3") as replica:
        port = int(replica.url.rsplit(":", 1)[1])
        with running_nginx([port]) as proxy:
            yield replica, proxy


def _get(url: str) -> tuple[int, Message, bytes]:
    """(status, headers, body); HTTP errors and redirects are answers too."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: object, **_kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=TLS), NoRedirect)
    try:
        with opener.open(url, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize(
    "path",
    [
        "/_stcore/metrics",
        "/_stcore/metrics/",
        "/_stcore/%6Detrics",
        "//_stcore/metrics",
        "/_stcore/agent/openapi.json",
        "/_stcore/agent/mcp",
        "/_stcore/script-health-check",
    ],
)
def test_streamlit_internal_routes_are_not_public(stack: tuple[LiveServer, Proxy], path: str) -> None:
    replica, proxy = stack
    status, headers, _body = _get(proxy.url + path)
    assert status == 404
    assert headers["Strict-Transport-Security"], "security headers on the refusal too"
    if path == "/_stcore/metrics":
        assert _get(replica.url + path)[0] == 200, "the replica serves it: nginx is what hides it"


def test_the_host_configuration_is_nginx_own_and_allows_no_other_origin(
    stack: tuple[LiveServer, Proxy],
) -> None:
    replica, proxy = stack
    status, headers, body = _get(proxy.url + "/_stcore/host-config")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Content-Security-Policy"], "the server's security headers are kept"
    ours = json.loads(body)
    assert ours["allowedOrigins"] == []
    assert ours["metricsUrl"] == ""
    # Same keys as the replica's own answer (the front end reads them), other origins dropped.
    _status, _headers, theirs = _get(replica.url + "/_stcore/host-config")
    assert ours.keys() == json.loads(theirs).keys()
    assert json.loads(theirs)["allowedOrigins"], "Streamlit's default allows its own hosting sites"


def test_no_version_in_the_server_header_or_error_pages(stack: tuple[LiveServer, Proxy]) -> None:
    _replica, proxy = stack
    for url in (
        proxy.url + "/_stcore/metrics",
        proxy.url + "/_stcore/agent/mcp",
        proxy.http_url + "/consult",
    ):
        status, headers, body = _get(url)
        assert status in (301, 404), url
        assert headers["Server"] == "nginx", url
        assert b"nginx/" not in body, url
    assert _get(proxy.url + "/_stcore/health")[1]["Server"] == "nginx"


def test_the_access_log_has_no_query_string_or_draft_token(stack: tuple[LiveServer, Proxy]) -> None:
    _replica, proxy = stack
    for url in (
        f"{proxy.url}/consult?draft={TOKEN}",
        f"{proxy.url}/?draft={TOKEN}&case=PT-0042",
        f"{proxy.http_url}/consult?draft={TOKEN}",
    ):
        _get(url)
    log = proxy.site_access_log()
    logged = [line for line in log if '"GET /consult HTTP/1.1"' in line or '"GET / HTTP/1.1"' in line]
    assert len(logged) >= 3, log[-10:]
    text = "\n".join(log)
    assert TOKEN not in text
    assert "PT-0042" not in text
    assert "?" not in text


def _handshake(port: int, ciphers: str, version: ssl.TLSVersion) -> str | None:
    """The negotiated suite, or ``None`` when the server refuses the handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    if version <= ssl.TLSVersion.TLSv1_2:
        context.set_ciphers(ciphers + ":@SECLEVEL=0")
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            suite = tls.cipher()
            return suite[0] if suite else None
    except (ssl.SSLError, OSError):
        return None


def test_only_intermediate_tls_suites_are_offered(stack: tuple[LiveServer, Proxy]) -> None:
    _replica, proxy = stack
    port = int(proxy.url.rsplit(":", 1)[1])
    assert (
        _handshake(port, "ECDHE-ECDSA-AES128-GCM-SHA256", ssl.TLSVersion.TLSv1_2)
        == "ECDHE-ECDSA-AES128-GCM-SHA256"
    )
    assert (
        _handshake(port, "ECDHE-ECDSA-CHACHA20-POLY1305", ssl.TLSVersion.TLSv1_2)
        == "ECDHE-ECDSA-CHACHA20-POLY1305"
    )
    assert _handshake(port, "", ssl.TLSVersion.TLSv1_3) is not None
    # CBC suites (OpenSSL's default list still has them) and TLS 1.1 are refused.
    for cbc in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256"):
        assert _handshake(port, cbc, ssl.TLSVersion.TLSv1_2) is None, cbc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the point: TLS 1.1 is refused
        assert _handshake(port, "ALL", ssl.TLSVersion.TLSv1_1) is None
