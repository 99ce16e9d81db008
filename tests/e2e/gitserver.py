"""A Git repository served over smart HTTP on loopback, as a GitOps tool's source: Debian's `git http-backend`
(the CGI program Git ships for this) behind a small threaded HTTP server. Flux's source-controller speaks
smart HTTP only (go-git has no dumb protocol and no git://), hence the CGI."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from wsconn_testbed.controlplane import free_port


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd`; fails loudly."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com"}
    env |= {"GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@example.com"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


class GitServer:
    """A bare repository `<name>.git` under a root, served at http://127.0.0.1:<port>/<name>.git, with a work
    tree beside it from which `commit()` pushes."""

    def __init__(self, root: Path, name: str = "gitops") -> None:
        self.root = root
        self.bare = root / "served" / f"{name}.git"
        self.work = root / "work"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/{name}.git"
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--bare", "--initial-branch=main", str(self.bare), cwd=root)
        git("init", "--initial-branch=main", str(self.work), cwd=root)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self.bare.parent))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> GitServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def commit(self, files: Mapping[str, list[dict[str, Any]]], message: str) -> str:
        """Replace the work tree's files with `files` (path -> objects, written as YAML), commit, push; the
        new revision."""
        for path in self.work.rglob("*.yaml"):
            path.unlink()
        for relative, objects in files.items():
            path = self.work / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump_all(objects))
        git("add", "--all", cwd=self.work)
        git("commit", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "origin", "main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work).strip()


def _handler(project_root: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._backend()

        def do_POST(self) -> None:
            self._backend()

        def _backend(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(project_root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(length),
                "REMOTE_ADDR": self.client_address[0],
            }
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            proc = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60, check=False
            )
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
            status = int((headers.get("Status") or "200").split()[0])
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "status":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads Flux's view, not the server's access log."""

    return Handler
