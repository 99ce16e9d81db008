"""Secret-leak canary run: every Secret value is a unique canary, the operator logs at debug level, and the
error paths run too (ARM 400 echoing the request body, a transient 500, a dropped connection, a Secret with an
empty value, a spec Azure rejects). Afterwards no canary appears in the operator's logs, any Event, any
resource's status or annotations, the metrics, or the emulator's request log and output; the only place it
may be is where it belongs, the connection stored in (emulated) Azure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, items, load_examples, retarget
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient


def _canary() -> str:
    return f"CANARY{uuid.uuid4().hex}"


def _settled_one(item: dict[str, Any]) -> bool:
    status = item.get("status") or {}
    conds = {c["type"]: c for c in status.get("conditions", [])}
    return bool(status.get("observedGeneration") == item["metadata"]["generation"]) and (
        conds.get("Ready", {}).get("status") == "True" or conds.get("Stalled", {}).get("status") == "True"
    )


def _settled(kube: client.ApiClient, namespace: str, count: int) -> list[dict[str, Any]] | None:
    found = items(kube, namespace)
    return found if len(found) == count and all(_settled_one(i) for i in found) else None


def _unsettled(kube: client.ApiClient, namespace: str) -> str:
    return "; ".join(
        f"{i['metadata']['name']}: "
        + str([(c["type"], c["status"], c["reason"]) for c in (i.get("status") or {}).get("conditions", [])])
        for i in items(kube, namespace)
        if not _settled_one(i)
    )


def test_no_secret_value_leaks_anywhere(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
    tmp_path: Path,
) -> None:
    emulator.admin("PUT", "settings", {"echo_body_in_errors": True})
    operator = start_operator(
        WSCONN_LOG_LEVEL="debug",
        WSCONN_LOG_FORMAT="json",
        WSCONN_DRIFT_INTERVAL="2",
        WSCONN_DEEP_DRIFT_CHECK="true",
    )
    canaries: list[str] = []
    objects: list[dict[str, Any]] = []
    for example in load_examples():
        for suffix in ("ok", "rejected", "flaky"):
            name = f"{example.auth_type.lower()}-{suffix}"
            for obj in retarget(example, workspace, name=name, api_version=None):
                obj["metadata"]["namespace"] = namespace
                if obj["kind"] == "Secret":
                    obj["stringData"] = {k: _canary() for k in obj["stringData"]}
                    canaries += obj["stringData"].values()
                objects.append(obj)
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("pat-ok"))
    empty_key = next(iter(secret["stringData"]))
    empty = {
        **secret,
        "metadata": {**secret["metadata"], "name": "pat-empty-secret"},
        "stringData": {empty_key: " "},
    }
    conn = next(
        o for o in objects if o["kind"] == "WorkspaceConnection" and o["metadata"]["name"] == "pat-ok"
    )
    empty_user = json.loads(json.dumps(conn))
    empty_user["metadata"]["name"] = "pat-empty"
    empty_user["spec"]["credentials"]["pat"]["secretKeyRef"]["name"] = "pat-empty-secret"
    objects += [empty, empty_user]
    emulator.faults(
        [
            {"methods": ["PUT"], "path_contains": "-rejected", "error_rate": 1.0, "statuses": [400]},
            {"path_contains": "-flaky", "error_rate": 0.5, "statuses": [500], "count": 10},
            {"path_contains": "-flaky", "drop_rate": 0.3, "count": 10},
        ],
        seed=3,
    )
    try:
        kubectl.apply(objects)
        count = len([o for o in objects if o["kind"] == "WorkspaceConnection"])
        items = wait_for(
            lambda: _settled(kube, namespace, count),
            # Retries back off exponentially (2 s doubling); a resource unlucky with the dice waits ~1 min.
            timeout=180,
            interval=1,
            what="all settled",
            describe=lambda: _unsettled(kube, namespace),
        )
        # A rotation and a deep drift check with forged credentials exercise the update and compare paths.
        core = client.CoreV1Api(kube)
        rotated = _canary()
        canaries.append(rotated)
        core.patch_namespaced_secret(
            secret["metadata"]["name"], namespace, {"stringData": {empty_key: rotated}}
        )
        emulator.admin(
            "PATCH",
            "connections",
            {"id": workspace.connection_id("apikey-ok"), "credentials": {"key": _canary()}},
        )
        wait_for(
            lambda: emulator.connections(prefix=workspace.connection_id("apikey-ok"))[0]["writes"] >= 2,
            timeout=20,
            what="deep drift check restored the forged key",
        )
    finally:
        emulator.admin("DELETE", "faults")
        emulator.admin("PUT", "settings", {"echo_body_in_errors": False})
    rejected = [i for i in items if i["metadata"]["name"].endswith("-rejected")]
    assert rejected, "the 400 path ran"
    assert all(
        any(c["type"] == "Stalled" and c["reason"] == "AzureRejected" for c in i["status"]["conditions"])
        for i in rejected
    )
    assert any(
        c["reason"] == "SecretValueEmpty"
        for i in items
        if i["metadata"]["name"] == "pat-empty"
        for c in i["status"]["conditions"]
    )

    places = {
        "operator log": operator.logs(),
        "metrics": operator.metrics(),
        "events": kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout,
        "resources": kubectl.run("get", "workspaceconnections", "-n", namespace, "-o", "json").stdout,
        "emulator request log": json.dumps(emulator.admin("GET", "requests")),
        "emulator output": (Path(emulator.info["ca_file"]).parents[2] / "emulator.log").read_text(),
    }
    assert '"severity": "debug"' in places["operator log"], "the operator did log at debug level"
    arm_errors = [
        record
        for line in places["operator log"].splitlines()
        if line.startswith("{") and (record := json.loads(line)).get("arm_request_id")
    ]
    assert arm_errors, "ARM errors were logged"
    for record in arm_errors:
        assert record["resource"].startswith(f"{namespace}/"), record
        assert record["correlation_id"], record
    assert len(json.loads(places["events"])["items"]) > 0
    for place, text in places.items():
        leaked = [c for c in canaries if c in text]
        assert leaked == [], f"{len(leaked)} canaries leaked into the {place}"
    stored_secrets = [
        emulator.arm("POST", f"{workspace.connection_id(i['metadata']['name'])}/listsecrets").text
        for i in items
        if i["metadata"]["name"].endswith("-ok") and i["spec"].get("credentials")
    ]
    assert any(c in "".join(stored_secrets) for c in canaries), "the canaries did reach Azure"
