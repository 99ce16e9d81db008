"""What the e2e session fixtures record for the run's summary (a module of its own, so that the root
conftest, which pytest-xdist's controller loads, and tests/e2e's conftest, which only workers load, share it)."""

from __future__ import annotations

from typing import Any

CONTROLPLANE_RUNS: list[dict[str, Any]] = []
"""One entry per control plane started: its version and seconds until /readyz."""
