"""The replay's comparison catches what it must: a changed value, a member out of order, a missing or added
member, a wrong type, a header missing or one the recording does not have, and exempt values that break the
one-to-one correspondence or their shape."""

from __future__ import annotations

from typing import Any

from tests.replay.compare import Bindings, compare_body, compare_headers

RECORDED: dict[str, Any] = {
    "id": "/subscriptions/x/c",
    "properties": {"authType": "AAD", "isDefault": True, "sharedUserList": ["a"], "metadata": {}},
    "systemData": {
        "createdAt": "2026-03-27T04:20:04.0059254Z",
        "createdBy": "Sanitized",
        "lastModifiedAt": "2026-03-27T04:20:04.0059254Z",
    },
}


def _replayed(**changes: Any) -> dict[str, Any]:
    properties = {**RECORDED["properties"], **changes.pop("properties", {})}
    system = {
        "createdAt": "2026-12-02T08:00:00.1Z",
        "createdBy": "recorder@x",
        "lastModifiedAt": "2026-12-02T08:00:00.1Z",
        **changes.pop("systemData", {}),
    }
    return {**RECORDED, **changes, "properties": properties, "systemData": system}


def test_an_equal_answer_passes_and_is_counted() -> None:
    tally = compare_body(RECORDED, _replayed(), Bindings())
    assert tally.mismatches == []
    assert (tally.values, tally.exempt) == (9, 3)  # 5 objects and lists, 4 leaves; 3 exempt leaves


def test_differences_are_found() -> None:
    cases = [
        _replayed(id="/subscriptions/y/c"),
        _replayed(properties={"isDefault": 1}),
        _replayed(properties={"sharedUserList": []}),
        {**_replayed(), "extra": None},
        {k: v for k, v in _replayed().items() if k != "id"},
        {
            "properties": _replayed()["properties"],
            "id": RECORDED["id"],
            "systemData": _replayed()["systemData"],
        },
        _replayed(properties={"metadata": {"DeploymentApiVersion": "x"}}),
    ]
    for replayed in cases:
        assert compare_body(RECORDED, replayed, Bindings()).mismatches, replayed


def test_exempt_values_must_correspond_one_to_one_and_have_their_shape() -> None:
    assert compare_body(RECORDED, _replayed(systemData={"createdAt": "yesterday"}), Bindings()).mismatches
    split = _replayed(systemData={"lastModifiedAt": "2026-12-02T08:00:00.2Z"})
    assert compare_body(RECORDED, split, Bindings()).mismatches  # one recorded time, two replayed
    bindings = Bindings()
    assert compare_body(RECORDED, _replayed(), bindings).mismatches == []
    replaced = {**RECORDED, "systemData": {**RECORDED["systemData"], "createdAt": "2026-03-27T04:20:05Z"}}
    replaced["systemData"]["lastModifiedAt"] = "2026-03-27T04:20:05Z"
    assert compare_body(replaced, _replayed(), bindings).mismatches  # two recorded times, one replayed


def test_headers() -> None:
    recorded = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Ms-Ratelimit-Remaining-Subscription-Global-Writes": "1",
    }
    good = {
        "content-type": "application/json; charset=utf-8",
        "x-ms-ratelimit-remaining-subscription-global-writes": "7",
    }
    assert compare_headers(recorded, good).mismatches == []
    assert compare_headers(recorded, {**good, "content-type": "text/html"}).mismatches
    assert compare_headers(recorded, {"content-type": good["content-type"]}).mismatches
    assert compare_headers({}, {"content-type": "application/json"}).mismatches  # a DELETE has none
    assert compare_headers(recorded, {**good, "retry-after": "1"}).mismatches
    assert compare_headers({}, {"x-ms-request-id": "r"}).mismatches == []
