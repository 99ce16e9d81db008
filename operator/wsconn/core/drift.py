"""Comparing what ARM reports (GET) with what the spec wants, for the non-secret fields only.

GET never returns credentials, so they are not compared here (see the opt-in deep check). Fields ARM adds
(group, createdByWorkspaceArmId, systemData, newer api-versions' properties, other tools' metadata when the
spec sets none) are tolerated. Enum-like values compare case-insensitively, as the service does, and
date-times compare as instants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

_CASE_INSENSITIVE = frozenset({"authType", "category", "valueFormat"})
_EMPTY_LIKE: tuple[Any, ...] = (None, {}, [], "")


def differences(desired: Mapping[str, Any], observed: Mapping[str, Any]) -> list[str]:
    """Names of desired properties whose observed value differs, sorted."""
    return sorted(name for name, want in desired.items() if not _same(name, want, observed.get(name)))


def credential_differences(desired: Mapping[str, Any], observed: Mapping[str, Any] | None) -> list[str]:
    """Names of credential fields whose values differ (deep check); values are compared, never returned."""
    observed = observed or {}
    names = set(desired) | set(observed)
    return sorted(n for n in names if desired.get(n) != observed.get(n))


def _same(name: str, want: Any, got: Any) -> bool:
    if want in _EMPTY_LIKE and got in _EMPTY_LIKE:
        return True
    if name in _CASE_INSENSITIVE and isinstance(want, str) and isinstance(got, str):
        return want.lower() == got.lower()
    if name == "expiryTime" and isinstance(want, str) and isinstance(got, str):
        return _instant(want) == _instant(got)
    if name == "metadata" and isinstance(want, Mapping) and isinstance(got, Mapping):
        return dict(want) == {k: v for k, v in got.items() if v is not None}
    return bool(want == got)


def _instant(value: str) -> dt.datetime | str:
    try:
        return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return value
