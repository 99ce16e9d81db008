"""api/status.py: the status as typed data, read leniently, written back exactly, and diffed into the merge
patch a handler sends (empty when nothing changed: a pass at rest writes nothing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.chart.status_fixtures import fixture_names, load
from wsconn.api import crd
from wsconn.api.status import (
    CONDITION_FIELDS,
    FIELDS,
    FRAMEWORK_FIELD,
    Condition,
    Status,
    format_time,
    parse_time,
    patch,
    secret_versions_of,
)

RAW: dict[str, Any] = {
    "observedGeneration": 3,
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Succeeded",
            "message": "ok",
            "observedGeneration": 3,
            "lastTransitionTime": "2026-06-01T10:00:00Z",
        }
    ],
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/connections/c",
    "group": "AzureAI",
    "azureApiVersion": "2025-06-01",
    "appliedFingerprint": "sha256:ab",
    "rejectedFingerprint": "sha256:cd",
    "secretVersions": {"b": "2", "a": "1"},
    "lastAppliedTime": "2026-06-01T10:00:00Z",
    "lastCheckedTime": "2026-06-01T10:05:00Z",
}


def test_a_stored_status_reads_back_exactly() -> None:
    status = Status.from_raw(RAW)
    assert status.to_raw() == {**RAW, "secretVersions": {"a": "1", "b": "2"}}
    assert status.last_checked_time == dt.datetime(2026, 6, 1, 10, 5, tzinfo=dt.UTC)
    assert status.is_ready(3)
    assert not status.is_ready(4)


@pytest.mark.parametrize("name", fixture_names())
def test_every_captured_object_reads_and_writes_back(name: str) -> None:
    raw = load(name).get("status") or {}
    assert Status.from_raw(raw).to_raw() == {k: v for k, v in raw.items() if k in FIELDS}


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        {"conditions": "garbage", "secretVersions": ["x"], "observedGeneration": "3", "id": 7},
        {"conditions": [1, {"no": "type"}, {"type": "Ready", "status": "maybe"}]},
        {"lastCheckedTime": "yesterday", "observedGeneration": True},
    ],
    ids=["none", "empty", "wrong-types", "bad-conditions", "bad-values"],
)
def test_a_hand_edited_status_reads_leniently(raw: dict[str, Any] | None) -> None:
    status = Status.from_raw(raw)
    assert status.observed_generation is None
    assert status.id is None
    assert status.last_checked_time is None
    assert all(c.type == "Ready" and c.status == "Unknown" for c in status.conditions)


def test_the_status_model_is_the_crds_status_schema() -> None:
    schema = crd.status_schema()
    assert {*FIELDS, FRAMEWORK_FIELD} == set(schema["properties"])
    assert schema["properties"][FRAMEWORK_FIELD]["x-kubernetes-preserve-unknown-fields"] is True
    assert set(CONDITION_FIELDS) == set(schema["properties"]["conditions"]["items"]["properties"])


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (RAW, Status.from_raw(RAW), {}),
        (RAW, Status.from_raw(RAW).replace(group="Other"), {"group": "Other"}),
        (RAW, Status.from_raw(RAW).replace(rejected_fingerprint=None), {"rejectedFingerprint": None}),
        ({}, Status(observed_generation=1), {"observedGeneration": 1}),
        (None, Status(), {}),
        ({"observedGeneration": 0}, Status(observed_generation=0), {}),
        ({**RAW, "foreign": "kept"}, Status.from_raw(RAW), {}),
    ],
    ids=[
        "unchanged",
        "one-field",
        "removed-field",
        "from-empty",
        "nothing",
        "crd-default",
        "foreign-field-left-alone",
    ],
)
def test_patch_holds_only_what_changed(
    before: dict[str, Any] | None, after: Status, expected: dict[str, Any]
) -> None:
    assert patch(before, after) == expected


def test_a_changed_condition_sends_the_whole_list() -> None:
    after = Status.from_raw(RAW).replace(conditions=(Condition("Ready", "False", "AzureThrottled", "wait"),))
    assert patch(RAW, after) == {
        "conditions": [{"type": "Ready", "status": "False", "reason": "AzureThrottled", "message": "wait"}]
    }


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-06-01T10:00:00Z", dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)),
        ("2026-06-01T12:00:00+02:00", dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)),
        ("2026-06-01T10:00:00", dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)),
        ("not a time", None),
        (None, None),
        (12, None),
    ],
)
def test_times(text: Any, moment: dt.datetime | None) -> None:
    assert parse_time(text) == moment
    if moment is not None:
        assert format_time(moment) == "2026-06-01T10:00:00Z"


def test_secret_versions_for_the_index_read_leniently() -> None:
    assert secret_versions_of(RAW) == {"a": "1", "b": "2"}
    assert secret_versions_of({"secretVersions": "x"}) == {}
    assert secret_versions_of(None) == {}
