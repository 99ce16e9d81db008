"""The missing-Secret grace (docs/design.md §3, `--missing-secret-grace`), as a GitOps user meets it: a connection
applied before its Secret is in progress, not failed, for the grace after its generation is first seen
(kstatus InProgress, so Flux and Argo CD wait), is Ready within moments of the Secret landing, and is Stalled
once the grace is over; the time it was first seen is kept in status, so a restart does not start it over.
The Flux run through the grace is in test_flux.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from tests.chart.test_kstatus import compute
from tests.e2e.amlconn import Workspace, condition, get, is_current, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient


def _pat(workspace: Workspace, namespace: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == "PAT")
    secret, conn = retarget(example, workspace, name=name, api_version=None)
    secret["metadata"]["name"] = f"{name}-pat"
    conn["spec"]["credentials"]["pat"]["secretKeyRef"]["name"] = f"{name}-pat"
    for obj in (secret, conn):
        obj["metadata"]["namespace"] = namespace
    return secret, conn


def _states(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}


def test_a_secret_delivered_during_the_grace_is_waited_for(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    secret, conn = _pat(workspace, namespace, "secret-later")
    kubectl.apply(conn)
    waiting = wait_condition(kube, namespace, "secret-later", "Reconciling")
    assert _states(waiting) == {
        "Ready": ("False", "SecretNotFound"),
        "Reconciling": ("True", "SecretNotFound"),
        "Stalled": ("False", "SecretNotFound"),
    }
    message = (condition(waiting, "Ready") or {})["message"]
    assert "secret-later-pat" in message, message
    assert "--missing-secret-grace" in message, message
    assert waiting["status"]["observedGenerationTime"], "the first sight of the generation is kept"
    [verdict] = compute(waiting)
    assert verdict["status"] == "InProgress", verdict
    time.sleep(2)
    assert is_current(get(kube, namespace, "secret-later"), "Reconciling"), "still waiting, not Stalled"

    started = time.monotonic()
    kubectl.apply(secret)
    wait_condition(kube, namespace, "secret-later", "Ready", timeout=30)
    took = time.monotonic() - started
    assert took < 5, f"Ready {took:.1f}s after the Secret appeared: the Secret watch, not a retry delay"
    puts = [e for e in emulator.requests(0) if e["method"] == "PUT" and e["path"].startswith(workspace.id)]
    assert len(puts) == 1


def test_after_the_grace_it_is_stalled_and_a_restart_does_not_start_it_over(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    operator = start_operator(WSCONN_MISSING_SECRET_GRACE="3")
    _, conn = _pat(workspace, namespace, "never-delivered")
    started = time.monotonic()
    kubectl.apply(conn)
    wait_condition(kube, namespace, "never-delivered", "Reconciling", timeout=10)
    stalled = wait_condition(kube, namespace, "never-delivered", "Stalled", timeout=15)
    took = time.monotonic() - started
    assert 3 <= took < 8, f"Stalled after {took:.1f}s with a 3 s grace (the timer looks every second)"
    assert _states(stalled)["Ready"] == ("False", "SecretNotFound")
    assert "--missing-secret-grace" not in (condition(stalled, "Stalled") or {})["message"]
    [verdict] = compute(stalled)
    assert verdict["status"] == "Failed", verdict

    # A new generation gets a new grace; a restart keeps counting from the time stored with it.
    operator.stop()
    operator = start_operator(WSCONN_MISSING_SECRET_GRACE="6")
    kubectl.run(
        "patch", "workspaceconnection", "never-delivered", "-n", namespace,
        "--type=merge", "-p", '{"spec": {"target": "https://dev.azure.com/other"}}',
    )  # fmt: skip
    new_generation = wait_condition(kube, namespace, "never-delivered", "Reconciling", timeout=10)
    assert new_generation["status"]["observedGenerationTime"] != stalled["status"]["observedGenerationTime"]
    seen = time.monotonic()
    operator.stop()
    time.sleep(max(0.0, 6.5 - (time.monotonic() - seen)))
    start_operator(WSCONN_MISSING_SECRET_GRACE="6")
    restarted = time.monotonic()
    wait_condition(kube, namespace, "never-delivered", "Stalled", timeout=10)
    assert time.monotonic() - restarted < 4, "the grace was over before the restart: Stalled on resume"
    assert [e for e in emulator.requests(0) if e["path"].startswith(workspace.id)] == [], "nothing sent"
