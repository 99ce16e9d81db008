"""GitOps health on live objects: kstatus (what Flux uses) and the Argo CD Lua check read WorkspaceConnections
taken straight from the API server in each state: new and not yet seen, Ready, transiently failing,
permanently failing, and a new generation the operator has not observed. With WSCONN_CAPTURE_FIXTURES=1 the
objects are written to tests/fixtures/status/ for the chart tests."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.chart.status_fixtures import EXPECTED, FIXTURES
from tests.chart.test_argocd_health import health
from tests.chart.test_kstatus import compute
from tests.e2e.amlconn import GROUP, PLURAL, VERSION, Workspace, custom, get, load_examples, retarget
from tests.e2e.amlconn import condition as cond
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient


def _objects(workspace: Workspace, namespace: str, name: str) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == "ApiKey")
    objects = retarget(example, workspace, name=name, api_version=None)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def _once(kube: client.ApiClient, namespace: str, name: str, ctype: str, **wanted: str) -> dict[str, Any]:
    """The object as soon as its `ctype` condition has the `wanted` fields."""

    def matches() -> dict[str, Any] | None:
        obj = get(kube, namespace, name)
        found = cond(obj, ctype) or {}
        return obj if all(found.get(k) == v for k, v in wanted.items()) else None

    captured: dict[str, Any] = wait_for(matches, what=f"{name}: {ctype} {wanted}")
    return captured


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a fixture: without managedFields (noise) but otherwise as the API server returned it."""
    obj = json.loads(json.dumps(obj))
    obj["metadata"].pop("managedFields", None)
    return obj


def test_kstatus_and_argocd_read_live_objects(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    captured: dict[str, dict[str, Any]] = {}
    kubectl.apply(_objects(workspace, namespace, "fresh")[-1])
    captured["no-status.json"] = get(kube, namespace, "fresh")

    emulator.faults(
        [{"path_contains": workspace.connection_id("transient"), "error_rate": 1.0, "statuses": [503]}]
    )
    try:
        # The missing Secret stalls once a short missing-Secret grace is over (in progress until then).
        operator = start_operator(WSCONN_MISSING_SECRET_GRACE="2")
        missing = _objects(workspace, namespace, "stalled")[-1]
        skipped = _objects(workspace, namespace, "skipped")
        skipped[-1]["metadata"].setdefault("annotations", {})["azureml.dev/reconcile-policy"] = "skip"
        kubectl.apply(
            [
                *_objects(workspace, namespace, "ready"),
                *_objects(workspace, namespace, "transient"),
                missing,
                *skipped,
            ]
        )
        captured["ready.json"] = _once(kube, namespace, "ready", "Ready", status="True")
        captured["stalled-permanent.json"] = _once(kube, namespace, "stalled", "Stalled", status="True")
        captured["skipped.json"] = _once(kube, namespace, "skipped", "Ready", reason="ReconcileSkipped")
        captured["reconciling-transient.json"] = _once(
            kube, namespace, "transient", "Reconciling", status="True"
        )
    finally:
        emulator.admin("DELETE", "faults")
    operator.stop()
    custom(kube).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "ready", {"spec": {"target": "https://changed.example.com"}}
    )
    captured["ready-old-generation.json"] = get(kube, namespace, "ready")

    assert captured["no-status.json"].get("status") == {"observedGeneration": 0}
    assert captured["ready-old-generation.json"]["metadata"]["generation"] == 2
    results = compute(*captured.values())
    for (name, obj), kstatus in zip(captured.items(), results, strict=True):
        argo, _ = health(obj)
        assert (argo, kstatus["status"]) == EXPECTED[name], (name, obj.get("status"))
    if os.environ.get("WSCONN_CAPTURE_FIXTURES") == "1":
        for name, obj in captured.items():
            (Path(FIXTURES) / name).write_text(json.dumps(_clean(obj), indent=2) + "\n")
