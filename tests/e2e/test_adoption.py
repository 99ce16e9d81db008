"""`spec.adoptionPolicy` (docs/design.md §2): the first pass of a new resource looks for its connection in Azure (one
GET). `Adopt` (the default) takes an existing one over and says so (an `Adopted` Event, `status.adopted`);
`Refuse` leaves it alone (`Stalled`, `AlreadyExists`), and deleting such a resource deletes nothing."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, condition, get, is_current, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

PORTAL_TARGET = "https://made-in-the-portal.openai.azure.com/"


def _objects(workspace: Workspace, namespace: str, name: str, **spec: Any) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == "ApiKey")
    objects = retarget(example, workspace, name=name, api_version=None)
    objects[-1]["spec"].update(spec)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def _made_elsewhere(emulator: EmulatorClient, workspace: Workspace, name: str) -> None:
    """A connection someone created in Azure before the resource existed."""
    body = {
        "properties": {
            "authType": "ApiKey",
            "category": "AzureOpenAI",
            "target": PORTAL_TARGET,
            "credentials": {"key": "made-elsewhere"},
        }
    }
    emulator.arm("PUT", workspace.connection_id(name), json=body).raise_for_status()


def _calls(emulator: EmulatorClient, workspace: Workspace, name: str, since: int) -> list[str]:
    path = workspace.connection_id(name).lower()
    return [e["method"] for e in emulator.requests(since) if e["path"].lower() == path]


def _events(kube: client.ApiClient, namespace: str, name: str) -> set[str]:
    listed = client.CoreV1Api(kube).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return {str(e.reason) for e in listed.items}


def test_adopt_takes_over_an_existing_connection_and_says_so(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    _made_elsewhere(emulator, workspace, "taken-over")
    since = emulator.last_seq()
    kubectl.apply(_objects(workspace, namespace, "taken-over"))
    obj = wait_condition(kube, namespace, "taken-over")
    assert obj["status"]["adopted"] is True
    # A resource's first write is said by its Ready condition; taking over an existing one by its Event.
    assert "Adopted" in _events(kube, namespace, "taken-over")
    assert _calls(emulator, workspace, "taken-over", since) == ["GET", "PUT"]
    [stored] = emulator.connections(prefix=workspace.id)
    assert stored["properties"]["target"] != PORTAL_TARGET, "the spec's connection now"

    kubectl.apply(_objects(workspace, namespace, "brand-new"))
    fresh = wait_condition(kube, namespace, "brand-new")
    assert "adopted" not in fresh["status"]
    assert "Adopted" not in _events(kube, namespace, "brand-new")


def test_refuse_leaves_an_existing_connection_alone_even_on_deletion(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    _made_elsewhere(emulator, workspace, "not-mine")
    since = emulator.last_seq()
    kubectl.apply(_objects(workspace, namespace, "not-mine", adoptionPolicy="Refuse"))
    obj = wait_condition(kube, namespace, "not-mine", "Stalled")
    stalled = condition(obj, "Stalled") or {}
    assert stalled["reason"] == "AlreadyExists"
    assert "adoptionPolicy is Refuse" in stalled["message"]
    assert not is_current(obj, "Ready")

    kubectl.run("delete", "workspaceconnection", "not-mine", "-n", namespace, "--wait=true", "--timeout=30s")
    assert _calls(emulator, workspace, "not-mine", since) == ["GET"], "one look, no write, no delete"
    [stored] = emulator.connections(prefix=workspace.id)
    assert stored["properties"]["target"] == PORTAL_TARGET

    kubectl.apply(_objects(workspace, namespace, "mine", adoptionPolicy="Refuse"))
    wait_condition(kube, namespace, "mine")  # nothing there: Refuse creates it
    assert get(kube, namespace, "mine")["status"].get("adopted") is None
