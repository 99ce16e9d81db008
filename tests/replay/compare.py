"""How a replayed answer is held against a recorded one: status, headers, and every JSON value, in order.

Plain functions over plain data, so that the comparison itself is unit-tested (test_compare.py).

Body values compare exactly, objects also by member order, except the values at these JSON paths (`[]` is any
list index, e.g. a list answer's `value[]`):

| Path | Class | Why exempt | What is checked instead |
|---|---|---|---|
| `systemData.createdAt`, `systemData.lastModifiedAt` | time | a time | ARM's format (`...T..:..:..[.1-7 digits]Z`) |
| `time` (the RP's 404 body) | time (offset) | a time | the same with `+00:00` |
| `systemData.createdBy`, `systemData.lastModifiedBy` | principal | the recorders' sanitised placeholders (`Sanitized`) or their own account | a non-empty string |
| `correlation.operation`, `correlation.request` (404 body) | request id | request ids | 32 and 16 lower-case hex digits |

Within one recording, exempt values must correspond one to one: a value recorded twice (a PUT's `createdAt`
and `lastModifiedAt`, then the GET after it) is replayed twice as one value, and two recorded values are
replayed as two (a replace's new `createdAt`). Ids are not exempt: the replay creates the recorded
subscriptions, resource groups and workspaces, placeholders included, so ids compare exactly.

Headers: every recorded header must be present (names compare case-insensitively); `Content-Type` must also
have the recorded value; and a header of the recorders' kept set (`Content-Type`, `Location`,
`Azure-AsyncOperation`, `Retry-After`) that the recording lacks must be absent. The rate-limit and
`x-ms-request-id` headers are not held to absence: the README says which recorders dropped them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

EXEMPT: dict[str, tuple[str, re.Pattern[str]]] = {
    "systemData.createdAt": ("time", re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")),
    "systemData.lastModifiedAt": ("time", re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")),
    "time": ("time", re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?\+00:00$")),
    "systemData.createdBy": ("principal", re.compile(r"^.+$")),
    "systemData.lastModifiedBy": ("principal", re.compile(r"^.+$")),
    "correlation.operation": ("request id", re.compile(r"^[0-9a-f]{32}$")),
    "correlation.request": ("request id", re.compile(r"^[0-9a-f]{16}$")),
}
KEPT_HEADERS = ("content-type", "location", "azure-asyncoperation", "retry-after")
"""The recorders kept these whenever they occurred, so their absence from a recording is evidence."""


@dataclass
class Tally:
    """What one comparison looked at, and what differed."""

    values: int = 0
    """Body values compared exactly (leaves, plus each object's member order)."""
    exempt: int = 0
    """Exempt body values checked for shape and correspondence."""
    headers: int = 0
    mismatches: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Fold another tally into this one."""
        self.values += other.values
        self.exempt += other.exempt
        self.headers += other.headers
        self.mismatches += other.mismatches


@dataclass
class Bindings:
    """Recorded exempt value <-> replayed value, per class, for one recording: a one-to-one correspondence."""

    forward: dict[tuple[str, Any], Any] = field(default_factory=dict)
    backward: dict[tuple[str, Any], Any] = field(default_factory=dict)

    def bind(self, kind: str, recorded: Any, replayed: Any) -> str:
        """'' when the pair is consistent with the earlier ones, else why not."""
        earlier = self.forward.setdefault((kind, recorded), replayed)
        if earlier != replayed:
            return f"recorded {kind} {recorded!r} was replayed as {earlier!r} before, now {replayed!r}"
        other = self.backward.setdefault((kind, replayed), recorded)
        if other != recorded:
            return f"replayed {kind} {replayed!r} stands for both {other!r} and {recorded!r}"
        return ""


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[]"
    return f"{parent}.{key}" if parent else key


def compare_body(recorded: Any, replayed: Any, bindings: Bindings, path: str = "") -> Tally:
    """Every value of `recorded` against `replayed`, object member order included."""
    tally = Tally()
    where = path or "(body)"
    rule = EXEMPT.get(re.sub(r"^value\[\]\.", "", path))
    if rule is not None:
        kind, shape = rule
        tally.exempt += 1
        if not isinstance(replayed, str) or not shape.match(replayed):
            tally.mismatches.append(f"{where}: {replayed!r} does not have the shape of a {kind}")
        else:
            problem = bindings.bind(kind, recorded, replayed)
            if problem:
                tally.mismatches.append(f"{where}: {problem}")
        return tally
    if isinstance(recorded, dict):
        tally.values += 1
        if not isinstance(replayed, dict):
            tally.mismatches.append(f"{where}: expected an object, got {replayed!r}")
            return tally
        if list(recorded) != list(replayed):
            tally.mismatches.append(f"{where}: members {list(replayed)} instead of {list(recorded)}")
        for key, value in recorded.items():
            if key in replayed:
                tally.add(compare_body(value, replayed[key], bindings, _path(path, key)))
        return tally
    if isinstance(recorded, list):
        tally.values += 1
        if not isinstance(replayed, list) or len(replayed) != len(recorded):
            tally.mismatches.append(f"{where}: expected {len(recorded)} items, got {replayed!r}")
            return tally
        for i, (mine, theirs) in enumerate(zip(recorded, replayed, strict=True)):
            tally.add(compare_body(mine, theirs, bindings, _path(path, i)))
        return tally
    tally.values += 1
    # JSON distinguishes true from 1: compare types as well as values.
    if type(recorded) is not type(replayed) or recorded != replayed:
        tally.mismatches.append(f"{where}: {replayed!r} instead of {recorded!r}")
    return tally


def compare_headers(recorded: dict[str, str], replayed: dict[str, str]) -> Tally:
    """The recorded headers' presence, Content-Type's value, and the absence of kept headers not recorded."""
    tally = Tally()
    mine = {k.lower(): v for k, v in recorded.items()}
    theirs = {k.lower(): v for k, v in replayed.items()}
    for name in mine:
        tally.headers += 1
        if name not in theirs:
            tally.mismatches.append(f"header {name}: missing")
    if "content-type" in mine and mine["content-type"] != theirs.get("content-type"):
        tally.mismatches.append(
            f"header content-type: {theirs.get('content-type')!r} instead of {mine['content-type']!r}"
        )
    for name in KEPT_HEADERS:
        if name not in mine:
            tally.headers += 1
            if name in theirs:
                tally.mismatches.append(f"header {name}: {theirs[name]!r} where the recording has none")
    return tally
