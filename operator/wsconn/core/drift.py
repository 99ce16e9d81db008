"""Comparing what ARM reports (GET) with what the spec wants: only what the spec sets and ARM echoes.

The rules follow the real service (tests/fixtures/recordings; the replay tier feeds every recorded response
through `differences` and finds none):
- write-only properties are never compared: credentials (GET answers `credentials: null`, or no key at all
  for AAD and None) and `value`/`valueFormat` (accepted, never returned);
- server-owned properties (`contract.SERVER_OWNED`: `group`, `createdByWorkspaceArmId`, `isDefault`,
  `peStatus`, `error`) are never compared; neither are the defaults the service
  reports for what the spec leaves unset (`peRequirement: NotRequired`, `useWorkspaceManagedIdentity: false`,
  `isSharedToAll: false`, `sharedUserList: []`, `expiryTime: null`, `target: null`, `metadata: {}`), because
  only what the spec sets is compared;
- metadata compares only the keys the spec sets: keys the service adds (AzureOpenAI's `DeploymentApiVersion`)
  or other tools write are not drift. A key the spec sets must come back with the same string; ARM's `null`
  is a value (the service keeps nulls it was sent) and differs from every string the spec can hold. A key
  the spec does not set is never looked at, whatever ARM holds for it, `null` included;
- enum-like values compare case-insensitively (the service canonicalises category casing, `AzureOpenAi` ->
  `AzureOpenAI`), date-times compare as instants, and an empty value the spec sets ("", [], {}) matches an
  absent or null one.
The opt-in deep check compares credentials from `listsecrets` in memory (`credential_differences`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from wsconn.api import contract

WRITE_ONLY: Final = frozenset({"credentials", "value", "valueFormat"})
NOT_COMPARED: Final = WRITE_ONLY | contract.SERVER_OWNED
_CASE_INSENSITIVE: Final = frozenset({"authType", "category", "peRequirement"})
_EMPTY_LIKE: tuple[Any, ...] = (None, {}, [], "")


def differences(desired: Mapping[str, Any], observed: Mapping[str, Any]) -> list[str]:
    """Names of desired properties whose observed value differs, sorted; write-only and server-owned
    properties are never compared."""
    return sorted(
        name
        for name, want in desired.items()
        if name not in NOT_COMPARED and not _same(name, want, observed.get(name))
    )


def credential_differences(desired: Mapping[str, Any], observed: Mapping[str, Any] | None) -> list[str]:
    """Names of credential fields whose values differ (deep check); values are compared, never returned."""
    observed = observed or {}
    names = set(desired) | set(observed)
    return sorted(n for n in names if desired.get(n) != observed.get(n))


def _same(name: str, want: Any, got: Any) -> bool:
    if name == "metadata" and isinstance(want, Mapping):
        return _same_metadata(want, got)
    if want in _EMPTY_LIKE and got in _EMPTY_LIKE:
        return True
    if name in _CASE_INSENSITIVE and isinstance(want, str) and isinstance(got, str):
        return want.lower() == got.lower()
    if name == "expiryTime" and isinstance(want, str) and isinstance(got, str):
        return _instant(want) == _instant(got)
    return bool(want == got)


def _same_metadata(want: Mapping[str, Any], got: Any) -> bool:
    if got is None:
        got = {}
    if not isinstance(got, Mapping):
        return False
    return all(key in got and got[key] == value for key, value in want.items())


def _instant(value: str) -> dt.datetime | str:
    try:
        return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return value
