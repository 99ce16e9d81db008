"""One owner per connection (docs/design.md §2, issue 13), measured as the issue measured it: team-a and team-b each
declare the same workspace and connection name (in another letter case) with their own target and key, the
operator watching both namespaces with drift checks every 4 s.

Before, both were Ready and took turns overwriting each other: 14 PUTs and 14 GETs in 30 s, and deleting
team-b's resource deleted the connection team-a still declared. Now the second resource is Stalled
(`ConnectionConflict`, naming the owner), writes nothing, and its deletion deletes nothing; the owner is
decided from what the cluster holds, so a restart changes nothing; and when the owner goes, the next in line
takes over with one PUT."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.amlconn import Workspace, condition, get, is_current, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

WINDOW = 30.0


@pytest.fixture
def team_b(kube: client.ApiClient) -> Iterator[str]:
    """A second team's namespace."""
    core = client.CoreV1Api(kube)
    name = f"team-b-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def _team(
    workspace: Workspace, namespace: str, name: str, connection: str, target: str
) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == "ApiKey")
    objects = retarget(example, workspace, name=name, api_version=None)
    objects[-1]["spec"]["connectionName"] = connection
    objects[-1]["spec"]["target"] = target
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def _calls(emulator: EmulatorClient, workspace: Workspace, since: int) -> dict[str, int]:
    connection = workspace.connection_id("shared-openai").lower()
    counts: dict[str, int] = {}
    for entry in emulator.requests(since):
        if entry["path"].lower() == connection:
            counts[entry["method"]] = counts.get(entry["method"], 0) + 1
    return counts


def _target(emulator: EmulatorClient, workspace: Workspace) -> str:
    [stored] = emulator.connections(prefix=workspace.id)
    return str(stored["properties"]["target"])


def _conflict(kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    obj = get(kube, namespace, name)
    stalled = is_current(obj, "Stalled")
    return obj if stalled and stalled["reason"] == "ConnectionConflict" else None


def test_the_second_resource_naming_a_connection_waits_and_takes_over_when_the_owner_goes(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    team_b: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    env = {"WSCONN_NAMESPACES": f"{namespace},{team_b}", "WSCONN_DRIFT_INTERVAL": "4"}
    operator = start_operator(**env)
    team_a_target = "https://team-a.openai.azure.com/"
    team_b_target = "https://team-b.openai.azure.com/"
    kubectl.apply(_team(workspace, namespace, "openai", "shared-openai", team_a_target))
    wait_condition(kube, namespace, "openai")

    since = emulator.last_seq()
    kubectl.apply(_team(workspace, team_b, "openai", "Shared-OpenAI", team_b_target))
    time.sleep(WINDOW)
    window = _calls(emulator, workspace, since)
    print(f"conflict: calls on the connection in {WINDOW:.0f}s after the second resource appeared: {window}")

    assert _conflict(kube, team_b, "openai"), condition(get(kube, team_b, "openai"), "Ready")
    stalled = condition(get(kube, team_b, "openai"), "Stalled") or {}
    assert f"{namespace}/openai" in stalled["message"], stalled
    assert window.get("PUT", 0) == 0, window
    assert window.get("DELETE", 0) == 0, window
    assert is_current(get(kube, namespace, "openai"), "Ready"), "the owner stays Ready"
    assert _target(emulator, workspace) == team_a_target

    # A restart decides from what the cluster holds: the same owner, nothing written.
    operator.stop()
    since = emulator.last_seq()
    operator = start_operator(**env)
    time.sleep(6)
    assert _calls(emulator, workspace, since).get("PUT", 0) == 0
    assert _conflict(kube, team_b, "openai"), "still waiting after the restart"
    assert is_current(get(kube, namespace, "openai"), "Ready")

    # Deleting the waiting resource deletes nothing in Azure.
    since = emulator.last_seq()
    kubectl.run("delete", "workspaceconnection", "openai", "-n", team_b, "--wait=true", "--timeout=30s")
    removed = _calls(emulator, workspace, since)
    print(f"conflict: calls on the connection when the second resource was deleted: {removed}")
    assert removed.get("DELETE", 0) == 0, removed
    assert _target(emulator, workspace) == team_a_target

    # The owner goes: the next in line takes over with one PUT.
    kubectl.apply(_team(workspace, team_b, "openai", "Shared-OpenAI", team_b_target))
    wait_for(lambda: _conflict(kube, team_b, "openai"), timeout=WINDOW, what="team-b waiting again")
    since = emulator.last_seq()
    kubectl.run("delete", "workspaceconnection", "openai", "-n", namespace, "--wait=true", "--timeout=30s")
    took_over = time.monotonic()
    wait_condition(kube, team_b, "openai", timeout=WINDOW)
    print(f"takeover: team-b Ready {time.monotonic() - took_over:.1f}s after the owner was gone")
    time.sleep(5)  # and nothing more after it
    takeover = _calls(emulator, workspace, since)
    print(f"takeover: calls on the connection after the owner's deletion: {takeover}")
    assert takeover.get("DELETE", 0) == 1, "the owner's deletion (policy Delete) deleted the connection"
    assert takeover.get("PUT", 0) == 1, takeover
    assert _target(emulator, workspace) == team_b_target
