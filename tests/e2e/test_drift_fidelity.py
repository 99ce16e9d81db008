"""No false drift against a service that answers as the real one does: AzureOpenAI connections whose metadata
the service extends (`DeploymentApiVersion`), and a spec with the write-only `value`/`valueFormat` the service
never returns, stay at zero PUTs over three drift intervals.

Before the drift rules followed the recordings, each of these was re-PUT (and reported `DriftCorrected`) on
every check: measured with the real responses, 6 PUTs in 6 checks of `examples/apikey.yaml`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

INTERVAL = 2.0
CHECKS = 3


def _connections(namespace: str, workspace: Workspace) -> list[dict[str, Any]]:
    """AzureOpenAI with ApiKey (examples/apikey.yaml) and with AAD, both setting metadata, and one setting
    the write-only value/valueFormat on the newest api-version that has them."""
    apikey = next(e for e in load_examples() if e.auth_type == "ApiKey")
    aad = next(e for e in load_examples() if e.auth_type == "AAD")
    objects = retarget(apikey, workspace, name="aoai-key", api_version=None)
    objects += retarget(apikey, workspace, name="aoai-key-2024", api_version="2024-04-01")
    with_value = retarget(apikey, workspace, name="aoai-value", api_version="2025-09-01")
    with_value[-1]["spec"].update(value='{"deployment": "gpt-4o"}', valueFormat="JSON")
    entra = retarget(aad, workspace, name="aoai-entra", api_version=None)
    entra[-1]["spec"].update(
        category="AzureOpenAI",
        target="https://contoso.openai.azure.com/",
        metadata={"ApiType": "Azure", "ResourceId": "/subscriptions/x/aoai"},
    )
    objects += with_value + entra
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def test_azure_openai_metadata_and_write_only_fields_cause_no_put_over_three_drift_intervals(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    start_operator(WSCONN_DRIFT_INTERVAL=str(INTERVAL))
    objects = _connections(namespace, workspace)
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "WorkspaceConnection"]
    kubectl.apply(objects)
    for name in names:
        wait_condition(kube, namespace, name)
    since = emulator.last_seq()

    # What makes this test able to fail: the service answers with more than the spec says.
    stored = {c["name"]: c["properties"] for c in emulator.connections(prefix=workspace.id)}
    for name in ("aoai-key", "aoai-key-2024", "aoai-entra"):
        assert "DeploymentApiVersion" in stored[name]["metadata"], stored[name]
    assert "value" not in stored["aoai-value"], "the service never returns value"

    def gets() -> Counter[str]:
        return Counter(
            e["path"].rsplit("/", 1)[-1]
            for e in emulator.requests(since)
            if e["method"] == "GET" and e["path"].startswith(workspace.id)
        )

    wait_for(
        lambda: all(gets()[name] >= CHECKS for name in names),
        timeout=CHECKS * (INTERVAL * 1.1 + max(1.0, INTERVAL / 4)) + 30,
        interval=0.5,
        what=f"{CHECKS} drift checks of every connection",
        describe=lambda: str(gets()),
    )
    writes = [
        (e["method"], e["path"].rsplit("/", 1)[-1])
        for e in emulator.requests(since)
        if e["method"] != "GET" and e["path"].startswith(workspace.id)
    ]
    assert writes == [], "no connection was written"
    events = client.CoreV1Api(kube).list_namespaced_event(namespace).items
    assert [e.involved_object.name for e in events if e.reason == "DriftCorrected"] == []
