"""Azure Service Operator v2 (the cached controller binary, bench/aso.py) as a process of the benchmark.

How it runs without its webhooks and CRD bundle (bench/README.md, "Azure Service Operator beside it"):
`AZURE_OPERATOR_MODE=watchers` (no webhook server), `--crd-management=none` (the stand-in CRD is installed by
the harness), health and metrics on loopback ports with `--secure-metrics=false`, every Azure setting from the
environment, Kubernetes through a kubeconfig holding a token of ASO's own ServiceAccount, and `HTTPS_PROXY`
pointing at the discovery proxy (bench/aso_proxy.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.operator import ManagedProcess

# Inherited variables that would change what ASO does or where it connects: every Azure and proxy setting
# comes from the harness.
_DROPPED_PREFIXES = ("AZURE_", "KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT")


def aso_argv(binary: Path, health_port: int, metrics_port: int) -> list[str]:
    """ASO's command line: no CRD management, health and metrics on loopback, metrics without auth."""
    return [
        str(binary),
        "--crd-management=none",
        f"--health-addr=127.0.0.1:{health_port}",
        f"--metrics-addr=127.0.0.1:{metrics_port}",
        "--secure-metrics=false",
    ]


@dataclass
class AsoProcess(ManagedProcess):
    """One ASO controller process with a given environment; its output goes to a file."""

    binary: Path
    NAME = "ASO"

    def start(self) -> AsoProcess:
        """Spawn the controller."""
        inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith(_DROPPED_PREFIXES)}
        self.started_at = time.time()
        self._spawn(aso_argv(self.binary, self.health_port, self.metrics_port), {**inherited, **self.env})
        return self

    def wait_healthy(self, timeout: float = 120.0) -> float:
        """Wait until /readyz answers 200; returns the wall-clock time it did."""
        return self._wait_for_200(f"http://127.0.0.1:{self.health_port}/readyz", timeout, 0.1)
