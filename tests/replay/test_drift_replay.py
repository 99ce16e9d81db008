"""Drift replay: every real response the recordings hold, fed to the operator's drift comparison for the spec
that produced the recorded PUT, finds no difference.

For each file of `tests/fixtures/recordings/` (none is skipped; a file without a PUT compares nothing and says
so), in recorded order and per connection:
- a recorded PUT is turned into the spec a user would write for it (`derive`): authType, category, target,
  metadata, isSharedToAll, sharedUserList, expiryTime, value/valueFormat, peRequirement,
  useWorkspaceManagedIdentity, and every credential as a `secretKeyRef` to a Secret holding the recorded
  value. The spec goes through the operator's own pipeline (parse_spec -> resolve -> build_body), and the body
  it makes must equal the recorded request body, up to the adjustments listed below: so the spec really is
  the one that produced the PUT;
- every later response of that connection up to its next PUT or DELETE (the PUT's own response included:
  PUT, GET, the connection's item in a list, listsecrets) goes through `differences(desired_properties(spec),
  response.properties)`, as the reconciler's drift check does, and must find nothing; a listsecrets
  response also goes through the deep check (`credential_differences`) against the values that were sent.

Where a recorded request cannot be expressed as a spec of ours, the closest spec is used and the test says
so here and in the run's summary line:
- api-versions we do not support (`2024-04-01-preview`, `2022-05-01`): the spec pins the closest supported
  one by date (2024-04-01 for both), and its rules decide what the spec may say;
- the recorder's sanitised subscription `00000000-0000-0000-0000-000000000` (nine digits in the last group)
  is not a GUID, so the spec names the all-zero GUID instead (the subscription never enters the comparison);
- categories sent in the SDK's casing (`AzureOpenAi`, `OpenAi`) are written as the contract's enum member
  (`AzureOpenAI`, `OpenAI`), as the CRD requires; the service answers with that casing too;
- metadata values sent as `null` cannot be written in a spec (its metadata maps strings to strings) and are
  left out; the service keeps them as `null`, which is not drift for a key the spec does not set;
- an envelope `name` in the body (ASO) is the URL's connection name, which the spec names as connectionName.

The counts (files, responses compared, listsecrets deep checks, differences, adjusted PUTs) go into each
test's report; `drift_counts` adds them up for the run's terminal summary (also under pytest-xdist, whose
workers send the reports, user properties included, to the controller).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.recordings import Interaction, Recording, all_recordings
from tests.replay.drift_counts import REPORT_KEY
from wsconn.api import contract
from wsconn.api.spec import SUBSCRIPTION_ID_PATTERN, ConnectionSpec, parse_spec
from wsconn.core.bodies import build_body, desired_properties
from wsconn.core.credentials import FetchedSecret, resolve
from wsconn.core.drift import credential_differences, differences

RECORDINGS = all_recordings()
SECRET = "recorded"  # the one Secret every derived spec reads its credentials from
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
CONNECTION = re.compile(
    r"^(?P<workspace>/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+))/connections(?:/(?P<name>[^/]+))?"
    r"(?P<action>/listsecrets)?$",
    re.IGNORECASE,
)
SPEC_PROPERTIES = (
    "target",
    "isSharedToAll",
    "sharedUserList",
    "expiryTime",
    "value",
    "valueFormat",
    "peRequirement",
    "useWorkspaceManagedIdentity",
)


@dataclass
class Derived:
    """The spec derived from one recorded PUT, and what had to be adjusted to write it."""

    spec: ConnectionSpec
    sent_credentials: dict[str, Any]
    adjustments: list[str]


@dataclass
class Tally:
    """What one file's replay compared."""

    responses: int = 0
    deep_checks: int = 0
    differences: list[str] = field(default_factory=list)
    adjusted_puts: int = 0
    notes: set[str] = field(default_factory=set)

    def as_report(self) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "deep_checks": self.deep_checks,
            "differences": len(self.differences),
            "adjusted_puts": self.adjusted_puts,
            "notes": sorted(self.notes),
        }


def closest_api_version(requested: str) -> str:
    """The supported api-version nearest in date to `requested` (its date part; a preview counts as its date)."""
    day = dt.date.fromisoformat(requested[:10])
    return min(contract.API_VERSIONS, key=lambda v: abs((dt.date.fromisoformat(v) - day).days))


def canonical_category(category: str) -> str:
    """The contract's enum member for a category sent in another casing."""
    matches = [c for c in contract.all_categories() if c.lower() == category.lower()]
    assert len(matches) == 1, f"category {category!r} is in no supported api-version"
    return matches[0]


def key_of(match: re.Match[str], name: str) -> str:
    return f"{match['workspace']}/connections/{name}".lower()


def derive(put: Interaction, match: re.Match[str]) -> Derived:
    """The spec a user would write for a recorded PUT; the body it makes must be the recorded one."""
    body = put.request.body
    props: dict[str, Any] = dict(body["properties"])
    adjustments: list[str] = []
    api_version = closest_api_version(put.api_version)
    if api_version != put.api_version:
        adjustments.append(f"api-version {put.api_version} -> {api_version}")
    subscription = match["sub"]
    if not re.fullmatch(SUBSCRIPTION_ID_PATTERN, subscription):
        adjustments.append(f"subscription {subscription} -> {PLACEHOLDER_SUBSCRIPTION}")
        subscription = PLACEHOLDER_SUBSCRIPTION
    raw: dict[str, Any] = {
        "workspace": {"subscriptionId": subscription, "resourceGroup": match["rg"], "name": match["ws"]},
        "connectionName": match["name"],
        "azureApiVersion": api_version,
        "authType": props["authType"],
    }
    if "category" in props:
        raw["category"] = canonical_category(props["category"])
        if raw["category"] != props["category"]:
            adjustments.append(f"category {props['category']} -> {raw['category']}")
            props["category"] = raw["category"]
    if props.get("metadata") is not None:
        kept = {k: v for k, v in props["metadata"].items() if v is not None}
        if kept != props["metadata"]:
            adjustments.append("metadata null values left out")
            props["metadata"] = kept
        raw["metadata"] = kept
    raw.update({name: props[name] for name in SPEC_PROPERTIES if props.get(name) is not None})
    if "name" in body:
        assert body["name"] == match["name"], "an envelope name other than the URL's"
        adjustments.append("envelope name -> connectionName")
    sent: dict[str, Any] = dict(props.get("credentials") or {})
    raw["credentials"] = {name: {"secretKeyRef": {"name": SECRET, "key": name}} for name in sent}
    spec = parse_spec(raw, metadata_name=match["name"], default_api_version=api_version)
    secret = FetchedSecret(SECRET, "1", {name: str(value).encode() for name, value in sent.items()})
    resolved = resolve(spec, {SECRET: secret})
    made = build_body(spec, resolved.values, resolved.custom_keys)
    assert made == {"properties": props}, "the derived spec does not make the recorded PUT body"
    return Derived(spec, sent, adjustments)


def compare(derived: Derived, response: Any, tally: Tally, where: str) -> None:
    props = response.get("properties") or {}
    found = differences(desired_properties(derived.spec), props)
    tally.differences += [f"{where}: {name}" for name in found]


def replay(recording: Recording) -> Tally:
    """Walk one file in recorded order and compare every response that has a spec to compare with."""
    tally = Tally()
    current: dict[str, Derived] = {}
    handlers: dict[tuple[str, bool, bool], Callable[[Interaction, re.Match[str]], None]] = {}

    def put(it: Interaction, match: re.Match[str]) -> None:
        derived = derive(it, match)
        current[key_of(match, match["name"])] = derived
        if derived.adjustments:
            tally.adjusted_puts += 1
            tally.notes.update(derived.adjustments)
        if it.response.status == 200:
            get(it, match)

    def get(it: Interaction, match: re.Match[str]) -> None:
        derived = current.get(key_of(match, match["name"]))
        if it.response.status != 200:
            return
        assert derived is not None, f"#{it.index}: a 200 for a connection no recorded PUT describes"
        compare(derived, it.response.body, tally, f"#{it.index} {it.request.method}")
        tally.responses += 1

    def list_secrets(it: Interaction, match: re.Match[str]) -> None:
        get(it, match)
        derived = current[key_of(match, match["name"])]
        listed = (it.response.body.get("properties") or {}).get("credentials")
        tally.deep_checks += 1
        tally.differences += [
            f"#{it.index} listsecrets: credentials.{name}"
            for name in credential_differences(derived.sent_credentials, listed)
        ]

    def listed(it: Interaction, match: re.Match[str]) -> None:
        items = [i for i in it.response.body["value"] if key_of(match, i["name"]) in current]
        for item in items:
            compare(current[key_of(match, item["name"])], item, tally, f"#{it.index} list {item['name']}")
        tally.responses += 1 if items else 0

    def delete(it: Interaction, match: re.Match[str]) -> None:
        current.pop(key_of(match, match["name"]), None)

    handlers.update(
        {
            ("PUT", True, False): put,
            ("GET", True, False): get,
            ("POST", True, True): list_secrets,
            ("GET", False, False): listed,
            ("DELETE", True, False): delete,
        }
    )
    for it in recording.interactions:
        match = CONNECTION.match(it.request.path)
        assert match is not None, f"#{it.index}: not a connection path: {it.request.path}"
        handler = handlers.get((it.request.method, match["name"] is not None, match["action"] is not None))
        assert handler is not None, f"#{it.index}: no replay rule for {it.request.method} {it.request.path}"
        handler(it, match)
    return tally


def test_there_are_recordings_to_replay() -> None:
    assert len(RECORDINGS) >= 10


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.file.removesuffix(".json") for r in RECORDINGS])
def test_no_recorded_response_differs_from_the_spec_that_was_put(
    recording: Recording, record_property: Callable[[str, object], None]
) -> None:
    tally = replay(recording)
    record_property(REPORT_KEY, tally.as_report())
    assert tally.differences == []
    puts = sum(1 for it in recording.interactions if it.request.method == "PUT")
    if puts:
        assert tally.responses >= puts, "every recorded PUT's own response was compared"
