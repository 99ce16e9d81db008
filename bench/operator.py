"""The operator as users run it (`wsconn run`, the installed console command) in its own process, with what
the benchmark reads from outside: /metrics, /healthz and the kernel's accounting in /proc.

A small form of tests/e2e/operator_process.py (the bench must not import the test tree).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from wsconn_testbed.controlplane import free_port
from wsconn_testbed.emulator.client import venv_bin

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def operator_command() -> str:
    """`wsconn` as it ships: from the runtime-only venv bench/run makes (hack/runtime-venv, named by
    WSCONN_BENCH_VENV), else from the dev venv (which also holds the test packages, Kopf imports `kubernetes`
    from it, so its memory figures are higher than the image's)."""
    venv = os.environ.get("WSCONN_BENCH_VENV")
    return str(Path(venv) / "bin" / "wsconn") if venv else venv_bin("wsconn")


@dataclass(frozen=True)
class ProcStats:
    """What the kernel accounts for one process at one moment."""

    cpu_seconds: float  # utime + stime: this process only (the operator starts no children)
    peak_rss_mib: float  # VmHWM: the resident-set high-water mark since the process started
    rss_mib: float  # VmRSS now
    threads: int


def proc_stats(pid: int) -> ProcStats:
    """Read /proc/<pid>/stat and /proc/<pid>/status."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    status: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    return ProcStats(
        cpu_seconds=(utime + stime) / _CLOCK_TICKS,
        peak_rss_mib=int(status["VmHWM"].split()[0]) / 1024,
        rss_mib=int(status["VmRSS"].split()[0]) / 1024,
        threads=int(status["Threads"]),
    )


@dataclass(kw_only=True)
class ManagedProcess:
    """What the benchmark does with a process it started (this operator, Azure Service Operator): its
    environment, log file and ports, its pid, its /proc figures, SIGTERM and the exit code, and the check that
    it still runs."""

    env: Mapping[str, str]
    log_path: Path
    health_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # time.time() just before the process was spawned
    last_stats: ProcStats | None = None
    NAME = "process"

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.popen is not None
        return self.popen.pid

    def stats(self) -> ProcStats:
        """CPU and memory now (kept as the last reading, for after the process is gone)."""
        self.last_stats = proc_stats(self.pid)
        return self.last_stats

    def stop(self, timeout: float = 60.0) -> int:
        """Read the final /proc figures, then SIGTERM and wait for the exit code."""
        if self.popen is None:
            return 0
        if self.popen.poll() is None:
            self.stats()
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
                return -9
        return int(self.popen.returncode)

    def _check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise RuntimeError(f"{self.NAME} exited with {self.popen.returncode}; see {self.log_path}")

    def _spawn(self, argv: list[str], env: Mapping[str, str]) -> None:
        """Start `argv` with exactly `env`, its output appended to the log file."""
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                argv, env=dict(env), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def _wait_for_200(self, url: str, timeout: float, interval: float) -> float:
        """Wait until `url` answers 200 (the process still running); returns the wall-clock time it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return time.time()
            except httpx.TransportError:
                pass
            time.sleep(interval)
        raise RuntimeError(f"{self.NAME} not healthy after {timeout}s; see {self.log_path}")


@dataclass
class Operator(ManagedProcess):
    """One `wsconn run` process with a given environment; logs go to a file."""

    NAME = "operator"

    def start(self) -> Operator:
        """Spawn the process (configured only by environment variables, as the Helm chart does)."""
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("WSCONN_", "AZURE_", "KUBECONFIG"))
        }
        env = {
            **inherited,
            **self.env,
            "WSCONN_BIND_ADDRESS": "127.0.0.1",
            "WSCONN_HEALTH_PORT": str(self.health_port),
            "WSCONN_METRICS_PORT": str(self.metrics_port),
            "PYTHONUNBUFFERED": "1",
        }
        self.started_at = time.time()
        self._spawn([operator_command(), "run"], env)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Wait until /healthz answers 200; returns the wall-clock time it did."""
        return self._wait_for_200(f"http://127.0.0.1:{self.health_port}/healthz", timeout, 0.05)

    def metrics(self) -> dict[str, float]:
        """The Prometheus samples as {'name{label="v",...}': value} (labels sorted)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
        return out

    def ready_resources(self) -> int:
        """wsconn_resources{ready="True"}: resources this process has reconciled and found Ready."""
        return int(self.metrics().get('wsconn_resources{ready="True"}', 0))

    def wait_settled(
        self, count: int, *, timeout: float, stall: float | None = None, poll: float = 0.1
    ) -> float | None:
        """Wait until this process has reconciled all `count` resources and reports them Ready (the gauge
        starts at 0 in a new process, so reaching `count` means every resource went through a pass).

        Returns the wall-clock time it did, or None after `timeout`, or earlier when the count has not
        grown for `stall` seconds: an operator that stops making progress is the finding, not a reason to
        wait for minutes. `poll`: seconds between two reads of /metrics.
        """
        deadline = time.monotonic() + timeout
        best, last_progress = -1, time.monotonic()
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                ready = self.ready_resources()
            except httpx.TransportError:
                ready = best
            if ready >= count:
                return time.time()
            if ready > best:
                best, last_progress = ready, time.monotonic()
            elif stall is not None and time.monotonic() - last_progress > stall:
                return None
            time.sleep(poll)
        return None
