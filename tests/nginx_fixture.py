"""The shipped nginx configuration (``deploy/nginx/myelo-cds.conf``), run on loopback for tests.

The site file is used as it is, with only what must differ on a test machine substituted:
listen addresses (127.0.0.1 and free ports), the replica list and a throwaway self-signed
certificate. Each substitution must match exactly once, so a change to the shipped file that
the test no longer covers fails loudly. nginx runs in the foreground (``daemon off``) with
its prefix, pid file, logs and temp directories in a temporary directory, and is stopped by
its process id. Debian package: ``nginx``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.live_app import free_port
from tests.service_dirs import scratch_directory

__all__ = ["NGINX", "Proxy", "nginx_or_fail", "render_site", "running_nginx"]

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "deploy" / "nginx" / "myelo-cds.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MISSING = "nginx not found: install the Debian package 'nginx' (apt-get install -y nginx)"

# The test log names the replica that answered each request and the browser's routing key.
_MAIN = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$status $request_method $uri upstream=$upstream_addr route=$myelo_route';
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/myelo-cds.conf;
}}
"""


@dataclass(frozen=True)
class Proxy:
    """nginx in front of the replicas: ``url`` is https, ``http_url`` the redirecting port."""

    url: str
    http_url: str
    directory: Path

    def access_log(self) -> list[str]:
        """The test's log: status, method, path, the replica that answered and the routing key."""
        return (self.directory / "access.log").read_text().splitlines()

    def site_access_log(self) -> list[str]:
        """The shipped configuration's own access log, as a hospital's nginx writes it."""
        return (self.directory / "site-access.log").read_text().splitlines()


def nginx_or_fail() -> None:
    """Skip without nginx, except under CI, where the proxy tests must run."""
    if Path(NGINX).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(MISSING + " - CI must run the proxy tests, never skip them")
    pytest.skip(MISSING)


def _replace_once(text: str, old: str, new: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{SITE.name}: expected {old!r} once, found it {count} times")
    return text.replace(old, new)


#: The shipped access log (query strings left out), once per server block.
SITE_ACCESS_LOG = "access_log /var/log/nginx/myelo-cds.access.log myelo_cds_noquery;"


def render_site(replica_ports: Sequence[int], http_port: int, https_port: int, tmp: Path) -> str:
    """The shipped site with test listen ports, replicas and certificate; its access log goes to
    ``site-access.log`` in ``tmp``, and beside it the test's own log (``access.log``, naming the
    replica and the routing key of each request)."""
    text = SITE.read_text()
    if text.count(SITE_ACCESS_LOG) != 2:
        raise AssertionError(f"{SITE.name}: expected {SITE_ACCESS_LOG!r} in both server blocks")
    text = text.replace(
        SITE_ACCESS_LOG,
        f"access_log {tmp}/site-access.log myelo_cds_noquery;\n    access_log {tmp}/access.log upstream;",
    )
    text = _replace_once(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _replace_once(text, "listen [::]:80;", "")
    text = _replace_once(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = _replace_once(text, "listen [::]:443 ssl http2;", "")
    text = _replace_once(text, "/etc/ssl/certs/myelo-cds.pem", str(tmp / "cert.pem"))
    text = _replace_once(text, "/etc/ssl/private/myelo-cds.key", str(tmp / "key.pem"))
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n" for port in replica_ports
    )
    text = _replace_once(text, "    server 127.0.0.1:8501 max_fails=1 fail_timeout=10s;\n", servers)
    return _replace_once(text, "    server 127.0.0.1:8502 max_fails=1 fail_timeout=10s;\n", "")


def _certificate(tmp: Path) -> None:
    key, cert = str(tmp / "key.pem"), str(tmp / "cert.pem")
    command = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", key, "-out", cert,
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)


@contextlib.contextmanager
def running_nginx(replica_ports: Sequence[int]) -> Iterator[Proxy]:
    """nginx with the shipped site in front of ``replica_ports``; stopped by its pid on exit."""
    # The workers (user nobody under a root master) write request bodies to temp dirs in here.
    tmp = scratch_directory("myelo-cds-nginx-", "nobody")
    tmp.chmod(0o755)
    http_port, https_port = free_port(), free_port()
    _certificate(tmp)
    (tmp / "myelo-cds.conf").write_text(render_site(replica_ports, http_port, https_port, tmp))
    (tmp / "nginx.conf").write_text(_MAIN.format(tmp=tmp))
    command = [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
    process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (tmp / "nginx.pid").exists() or not _accepts(https_port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nginx did not start: " + (tmp / "error.log").read_text()[-2000:])
            time.sleep(0.05)
        yield Proxy(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", tmp)
    finally:
        process.terminate()  # SIGTERM: fast shutdown of master and workers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False
