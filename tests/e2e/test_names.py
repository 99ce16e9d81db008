"""Connection names of 3 to 64 characters: a 34-character name as the real service accepted it becomes Ready,
and a name the service refuses although the CRD accepts it ends Stalled with ARM's own code and message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.e2e.amlconn import Workspace, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

RECORDED_NAME = "e2etest_wps_conn_test_513561481161"  # 34 characters, accepted by the real service
ARM_BOUND = 40  # lower than the operator's 64, to stand for a service that enforces a bound of its own


def _apply(kubectl: Kubectl, namespace: str, workspace: Workspace, name: str, connection_name: str) -> None:
    example = next(e for e in load_examples() if e.auth_type == "AAD")
    objects = retarget(example, workspace, name=name, api_version=None)
    objects[-1]["spec"]["connectionName"] = connection_name
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    kubectl.apply(objects)


@pytest.fixture
def arm_name_bound(emulator: EmulatorClient) -> Iterator[int]:
    """The emulator refusing names over ARM_BOUND characters for one test (the emulator is per session)."""
    before = emulator.admin("PUT", "settings", {})["max_name_length"]
    emulator.admin("PUT", "settings", {"max_name_length": ARM_BOUND})
    try:
        yield ARM_BOUND
    finally:
        emulator.admin("PUT", "settings", {"max_name_length": before})


def test_a_34_character_name_as_recorded_becomes_ready(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    _apply(kubectl, namespace, workspace, "recorded-name", RECORDED_NAME)
    obj = wait_condition(kube, namespace, "recorded-name")
    assert obj["status"]["id"] == workspace.connection_id(RECORDED_NAME)
    assert {c["name"] for c in emulator.connections(prefix=workspace.id)} == {RECORDED_NAME}


def test_a_name_arm_refuses_beyond_its_bound_is_stalled_with_arms_code_and_message(
    arm_name_bound: int,
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    long_name = "n" * (arm_name_bound + 10)  # within the CRD's 64, beyond ARM's bound
    since = emulator.last_seq()
    _apply(kubectl, namespace, workspace, "long-name", long_name)
    _apply(kubectl, namespace, workspace, "short-name", "n" * arm_name_bound)

    wait_condition(kube, namespace, "short-name")
    obj = wait_condition(kube, namespace, "long-name", "Stalled")
    stalled = next(c for c in obj["status"]["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "AzureRejected"
    assert "400 ValidationError" in stalled["message"], stalled["message"]
    assert f"3 to {arm_name_bound} characters" in stalled["message"], stalled["message"]
    calls = [
        (e["method"], e["status"]) for e in emulator.requests(since) if e["path"].endswith(f"/{long_name}")
    ]
    # Refused once, on the first pass's look for an existing connection (adoptionPolicy: ARM refuses the name
    # whatever the method), and not retried until the spec changes.
    assert calls == [("GET", 400)], calls
    assert {c["name"] for c in emulator.connections(prefix=workspace.id)} == {"n" * arm_name_bound}
