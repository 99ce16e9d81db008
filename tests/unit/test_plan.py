"""core/plan.py: what a pass does, decided from plain data, and what a drift check or a PUT's answer leads to.

The contradiction check is held to the real service: no recorded PUT answer contradicts its own request
(tests/fixtures/recordings/)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.recordings import all_recordings
from wsconn.core.plan import (
    Action,
    Adoption,
    Applied,
    DeleteAction,
    adoption,
    after_check,
    contradictions,
    plan,
    plan_delete,
)

ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/connections/c1"

PLANS: list[tuple[str, str, Applied, bool, Action]] = [
    # (id, desired, applied, drift due, action)
    ("never-applied", "A", Applied(None, None), False, Action.CREATE),
    ("never-applied-drift-due", "A", Applied(None, None), True, Action.CREATE),
    ("changed", "B", Applied("A", None), False, Action.UPDATE),
    ("changed-drift-due", "B", Applied("A", None), True, Action.UPDATE),
    ("unchanged", "A", Applied("A", None), False, Action.NOOP),
    ("unchanged-drift-due", "A", Applied("A", None), True, Action.CHECK),
    ("rejected", "A", Applied(None, "A"), False, Action.KEEP_REJECTED),
    ("rejected-drift-due", "A", Applied(None, "A"), True, Action.KEEP_REJECTED),
    ("rejected-after-earlier-apply", "B", Applied("A", "B"), True, Action.KEEP_REJECTED),
    ("fixed-after-rejection", "C", Applied("A", "B"), False, Action.UPDATE),
    ("fixed-before-any-apply", "C", Applied(None, "B"), False, Action.CREATE),
    ("old-rejection-same-as-applied", "A", Applied("A", "B"), False, Action.NOOP),
]


@pytest.mark.parametrize(
    ("desired", "applied", "due", "action"), [p[1:] for p in PLANS], ids=[p[0] for p in PLANS]
)
def test_plan(desired: str, applied: Applied, due: bool, action: Action) -> None:
    assert plan(desired=desired, applied=applied, drift_due=due) is action


@pytest.mark.parametrize(
    ("policy", "target", "action"),
    [
        ("Delete", ID, DeleteAction.DELETE),
        ("Delete", None, DeleteAction.FORGET),
        ("Orphan", ID, DeleteAction.ORPHAN),
        ("Orphan", None, DeleteAction.ORPHAN),
    ],
)
def test_plan_delete(policy: str, target: str | None, action: DeleteAction) -> None:
    assert plan_delete(policy=policy, target=target) is action


DESIRED = {
    "authType": "ApiKey",
    "category": "AzureOpenAI",
    "target": "https://a.example/",
    "isSharedToAll": True,
}


@pytest.mark.parametrize(
    ("observed", "credentials", "why"),
    [
        (None, None, "the connection is missing in Azure"),
        ({"properties": {**DESIRED, "group": "AzureAI"}}, None, None),
        (
            {"properties": {**DESIRED, "target": "https://b.example/"}},
            None,
            "fields changed in Azure: target",
        ),
        (
            {"properties": {**DESIRED, "isSharedToAll": False, "target": "x"}},
            None,
            "fields changed in Azure: isSharedToAll, target",
        ),
        ({"properties": DESIRED}, ({"key": "a"}, {"key": "a"}), None),
        ({"properties": DESIRED}, ({"key": "a"}, {"key": "b"}), "credentials changed in Azure: key"),
        ({"properties": DESIRED}, ({"key": "a"}, None), "credentials changed in Azure: key"),
        ({}, None, "fields changed in Azure: authType, category, isSharedToAll, target"),
    ],
    ids=[
        "missing",
        "clean",
        "edited",
        "two-fields",
        "same-credentials",
        "credentials",
        "credentials-gone",
        "empty-answer",
    ],
)
def test_after_check(
    observed: dict[str, Any] | None,
    credentials: tuple[dict[str, Any], dict[str, Any] | None] | None,
    why: str | None,
) -> None:
    assert after_check(observed=observed, desired=DESIRED, credentials=credentials) == why


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        ({"id": ID, "name": "c1", "properties": {**DESIRED, "group": "AzureAI", "credentials": None}}, []),
        (
            {"id": ID.upper(), "name": "C1", "properties": {"authType": "apikey", "category": "azureopenai"}},
            [],
        ),
        ({}, []),
        ({"properties": {}}, []),
        ({"properties": {**DESIRED, "isSharedToAll": False, "metadata": {"added": "by-the-service"}}}, []),
        (
            {"properties": {**DESIRED, "authType": "None", "target": "https://elsewhere.example/"}},
            ["authType", "target"],
        ),
        ({"id": ID.replace("/c1", "/c2"), "properties": DESIRED}, ["id"]),
        ({"name": "c2"}, ["name"]),
    ],
    ids=[
        "echo",
        "other-casing",
        "empty",
        "no-properties",
        "drift-fields-are-not-contradictions",
        "other-connection",
        "other-id",
        "other-name",
    ],
)
def test_contradictions(answer: dict[str, Any], found: list[str]) -> None:
    assert contradictions(resource_id=ID, desired=DESIRED, answer=answer) == found


def recorded_puts() -> list[tuple[str, Any, Any]]:
    return [
        (f"{r.file}#{i.index}", i.request, i.response)
        for r in all_recordings()
        for i in r.interactions
        if i.request.method == "PUT" and 200 <= i.response.status < 300
    ]


@pytest.mark.parametrize(
    ("request_", "response"), [p[1:] for p in recorded_puts()], ids=[p[0] for p in recorded_puts()]
)
def test_no_recorded_put_answer_contradicts_its_request(request_: Any, response: Any) -> None:
    desired = {k: v for k, v in request_.body["properties"].items() if k != "credentials"}
    assert contradictions(resource_id=request_.path, desired=desired, answer=response.body) == []


def test_the_recordings_hold_put_answers() -> None:
    assert len(recorded_puts()) >= 10


@pytest.mark.parametrize(
    ("exists", "policy", "decision"),
    [
        (False, "Adopt", Adoption.WRITE),
        (False, "Refuse", Adoption.WRITE),
        (True, "Adopt", Adoption.ADOPT),
        (True, "Refuse", Adoption.REFUSE),
    ],
)
def test_adoption(exists: bool, policy: str, decision: Adoption) -> None:
    assert adoption(exists=exists, policy=policy) is decision


def test_a_refused_resource_deletes_nothing_unless_orphaned_anyway() -> None:
    assert plan_delete(policy="Delete", target="/id", refused=True) is DeleteAction.FORGET
    assert plan_delete(policy="Orphan", target="/id", refused=True) is DeleteAction.ORPHAN
