"""The operator as users run it: the installed `wsconn run` console command in its own process."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wsconn_testbed.controlplane import free_port

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process that started it dies, so an interrupted or
    timed-out test run never leaves an operator behind (they outlive their control plane and spin)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class OperatorProcess:
    """`wsconn run` with a given environment; logs go to a file the test can read."""

    env: Mapping[str, str]
    log_path: Path
    args: Sequence[str] = ()
    health_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_ready: bool = True) -> OperatorProcess:
        """Start the process; by default wait until its liveness endpoint answers."""
        env = {
            **self.env,
            "WSCONN_BIND_ADDRESS": "127.0.0.1",
            "WSCONN_HEALTH_PORT": str(self.health_port),
            "WSCONN_METRICS_PORT": str(self.metrics_port),
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command(env),
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        if wait_ready:
            try:
                self.wait_healthy()
            except AssertionError:
                self.kill()
                raise
        return self

    def command(self, env: Mapping[str, str]) -> list[str]:
        """The argv that runs the operator with `env` (on top of this process's environment)."""
        return [str(Path(sys.executable).with_name("wsconn")), "run", *self.args]

    def signal_target(self) -> int:
        """The pid that stop() signals: the operator itself."""
        assert self.popen is not None
        return self.popen.pid

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Wait for /healthz to answer 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise AssertionError(f"operator exited with {self.popen.returncode}:\n{self.logs()[-4000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"operator not healthy after {timeout}s:\n{self.logs()[-4000:]}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `sig` and wait for the exit code."""
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else 0
        os.kill(self.signal_target(), sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)
            raise AssertionError(f"operator did not exit {timeout}s after {sig.name}") from None

    def kill(self) -> None:
        """SIGKILL, as a node failure or OOM would."""
        if self.popen is not None and self.popen.poll() is None:
            target = self.signal_target()
            if target != self.popen.pid:  # a wrapper (buildah) would leave its child running
                os.kill(target, signal.SIGKILL)
            self.popen.kill()
            self.popen.wait(10)

    def logs(self) -> str:
        """Everything the process logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def metrics(self) -> str:
        """The Prometheus exposition text."""
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
