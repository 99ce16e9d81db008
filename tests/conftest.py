"""Shared pytest wiring: e2e tests get the `e2e` marker from their directory; the run's header names the
control-plane binaries and its summary says what the e2e tests ran against and what the replay tiers
compared (also under pytest-xdist, whose controller loads only this conftest)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.replay import drift_counts, tally
from tests.runs import CONTROLPLANE_RUNS
from wsconn_testbed.controlplane import ControlPlaneError, find_binaries


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        binary = find_binaries() / "kube-apiserver"
        version = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        return [f"e2e control plane: {version} from {binary.parent}"]
    except ControlPlaneError:
        return ["e2e control plane: no binaries (run hack/build-controlplane)"]


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["controlplane_runs"] = CONTROLPLANE_RUNS
        workeroutput["replay_counts"] = {tier: dict(counts) for tier, counts in tally.COUNTS.items()}


def pytest_testnodedown(node: Any, error: Any) -> None:
    CONTROLPLANE_RUNS.extend(getattr(node, "workeroutput", {}).get("controlplane_runs", []))
    tally.merge(getattr(node, "workeroutput", {}).get("replay_counts", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    outcomes: dict[str, int] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        reports = terminalreporter.stats.get(outcome, [])
        count = len({r.nodeid for r in reports if str(getattr(r, "nodeid", "")).startswith("tests/e2e/")})
        if count:
            outcomes[outcome] = count
    counts = ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items()) or "none run"
    for run in CONTROLPLANE_RUNS:
        terminalreporter.write_line(
            f"e2e ran against kube-apiserver {run['version']} (local, ready in {run['startup_seconds']} s) "
            "and the Azure emulator"
        )
    terminalreporter.write_line(f"e2e tests: {counts}")
    for line in tally.summary_lines() + drift_counts.summary_lines(terminalreporter):
        terminalreporter.write_line(line)
