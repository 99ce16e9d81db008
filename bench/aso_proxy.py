"""A loopback HTTPS CONNECT proxy that answers MSAL for Go's instance discovery from the emulator.

Why: MSAL for Go asks `https://login.microsoftonline.com/common/discovery/instance` whenever the authority is
not a known Microsoft host (the emulator's is 127.0.0.1), and Azure Service Operator does not turn that off.
The benchmark runs offline, so ASO gets `HTTPS_PROXY` pointing here (Go never proxies loopback, so its ARM and
Kubernetes traffic go direct). The proxy accepts a CONNECT to `login.microsoftonline.com:443` only, terminates
TLS with a certificate for that name from a CA of its own (which the caller adds to ASO's `SSL_CERT_FILE`),
and forwards `GET /common/discovery/instance?...` to the emulator, which serves that path. Everything else is
refused: a CONNECT elsewhere gets 403, any other path 404, so nothing can leave the machine through it.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from wsconn_testbed.pki import create_authority

DISCOVERY_HOST = "login.microsoftonline.com"
DISCOVERY_TARGET = f"{DISCOVERY_HOST}:443"
DISCOVERY_PATH = "/common/discovery/instance"


def connect_allowed(target: str) -> bool:
    """Whether a CONNECT target (`host:port`) is the one this proxy serves (host names are case-insensitive)."""
    return target.strip().lower() == DISCOVERY_TARGET


def upstream_path(path: str) -> str | None:
    """The path and query to ask the emulator for, or None when the request is not instance discovery."""
    parts = urlsplit(path)
    if parts.path != DISCOVERY_PATH:
        return None
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@dataclass(frozen=True)
class ProxyCertificates:
    """The proxy's own CA (for ASO's trust bundle) and its leaf for login.microsoftonline.com."""

    ca_cert: Path
    leaf_cert: Path
    leaf_key: Path


def write_certificates(directory: Path) -> ProxyCertificates:
    """A throwaway CA and a leaf certificate for DISCOVERY_HOST, as PEM files in `directory` (keys 0600)."""
    authority = create_authority(directory, "wsconn-bench-discovery-proxy-ca")
    leaf = authority.issue(directory, "proxy-leaf", dns_names=(DISCOVERY_HOST,))
    return ProxyCertificates(authority.cert, leaf.cert, leaf.key)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext, upstream: httpx.Client) -> None:
        super().__init__(("127.0.0.1", 0), _ConnectHandler)
        self.tls = tls
        self.upstream = upstream
        self.lock = threading.Lock()
        self.connects: dict[str, int] = {}  # CONNECT target -> count, refused ones included
        self.forwarded = 0  # discovery requests answered by the emulator

    def count_connect(self, target: str) -> None:
        with self.lock:
            self.connects[target] = self.connects.get(target, 0) + 1


class _ConnectHandler(BaseHTTPRequestHandler):
    """The plain side: CONNECT only."""

    server: _Server

    def do_CONNECT(self) -> None:
        self.server.count_connect(self.path)
        if not connect_allowed(self.path):
            self.send_error(403, "this proxy serves login.microsoftonline.com:443 only")
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        _TunnelHandler(tls, self.client_address, self.server)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the counts are kept instead."""


class _TunnelHandler(BaseHTTPRequestHandler):
    """The TLS side of an accepted tunnel: instance discovery only, answered by the emulator."""

    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as MSAL expects of Entra

    def do_GET(self) -> None:
        target = upstream_path(self.path)
        if target is None:
            self.send_error(404, "only instance discovery is served here")
            return
        try:
            answer = self.server.upstream.get(target)
        except httpx.HTTPError:
            self.send_error(502, "the emulator did not answer")
            return
        with self.server.lock:
            self.server.forwarded += 1
        body = answer.content
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the counts are kept instead."""


class DiscoveryProxy:
    """The proxy as a thread of the harness: `start()`, read `url`, `stop()`."""

    def __init__(self, certificates: ProxyCertificates, emulator_url: str, emulator_ca: str) -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(certificates.leaf_cert, certificates.leaf_key)
        self._upstream = httpx.Client(
            base_url=emulator_url, verify=ssl.create_default_context(cafile=emulator_ca), timeout=30
        )
        self._server = _Server(tls, self._upstream)
        self._thread = threading.Thread(target=self._server.serve_forever, name="aso-proxy", daemon=True)

    @property
    def url(self) -> str:
        """The value for HTTPS_PROXY."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def forwarded(self) -> int:
        """Discovery requests answered so far."""
        return self._server.forwarded

    @property
    def connects(self) -> dict[str, int]:
        """CONNECT targets asked for so far (refused ones included), with counts."""
        with self._server.lock:
            return dict(self._server.connects)

    def start(self) -> DiscoveryProxy:
        """Serve in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the upstream connection pool."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._upstream.close()
