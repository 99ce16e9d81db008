"""The WorkspaceConnection status as typed data: the only module that knows the status's field names.

`Status.from_raw` reads what the API server holds leniently (a field of the wrong type reads as absent: the
status is ours, but an object edited by hand must not crash a pass), `to_raw` writes only the fields that are
set, and `patch` is the merge patch from what the server holds to a new status, over the fields the operator
owns. Times are datetimes here and RFC 3339 seconds with a `Z` on the wire. A test holds these names to the
CRD's status schema.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

ConditionStatus = Literal["True", "False", "Unknown"]
READY: Final = "Ready"


def format_time(moment: dt.datetime) -> str:
    """RFC 3339 in UTC, to the second, with a Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> dt.datetime | None:
    """A status time back into a datetime (None when absent or malformed)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Condition:
    """One kstatus condition."""

    type: str
    status: ConditionStatus
    reason: str
    message: str
    observed_generation: int | None = None
    last_transition_time: dt.datetime | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> Condition | None:
        """A condition as stored; None when it is not one."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
            return None
        status = raw.get("status")
        return cls(
            type=raw["type"],
            status=status if status in ("True", "False") else "Unknown",
            reason=_text(raw.get("reason")),
            message=_text(raw.get("message")),
            observed_generation=_int(raw.get("observedGeneration")),
            last_transition_time=parse_time(raw.get("lastTransitionTime")),
        )

    def to_raw(self) -> dict[str, Any]:
        """The condition as stored."""
        raw: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
        }
        if self.observed_generation is not None:
            raw["observedGeneration"] = self.observed_generation
        if self.last_transition_time is not None:
            raw["lastTransitionTime"] = format_time(self.last_transition_time)
        return raw


@dataclass(frozen=True)
class Status:
    """What the operator keeps in `.status`."""

    observed_generation: int | None = None
    # When the operator first saw `observed_generation`: the missing-Secret grace counts from it (core/grace.py).
    observed_generation_time: dt.datetime | None = None
    conditions: tuple[Condition, ...] = ()
    id: str | None = None
    group: str | None = None
    azure_api_version: str | None = None
    applied_fingerprint: str | None = None
    rejected_fingerprint: str | None = None
    secret_versions: Mapping[str, str] | None = None
    last_applied_time: dt.datetime | None = None
    last_checked_time: dt.datetime | None = None
    azure_identity: Mapping[str, str] | None = None
    adopted: bool | None = None
    last_handled_reconcile_at: str | None = None

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any] | None) -> Status:
        """The status as stored (None or {} is the empty status)."""
        raw = raw if isinstance(raw, Mapping) else {}
        items = raw.get(_RAW["conditions"])
        conditions = (Condition.from_raw(item) for item in (items if isinstance(items, list) else ()))
        versions = raw.get(_RAW["secret_versions"])
        return cls(
            observed_generation=_int(raw.get(_RAW["observed_generation"])),
            observed_generation_time=parse_time(raw.get(_RAW["observed_generation_time"])),
            conditions=tuple(c for c in conditions if c is not None),
            id=_optional_text(raw.get(_RAW["id"])),
            group=_optional_text(raw.get(_RAW["group"])),
            azure_api_version=_optional_text(raw.get(_RAW["azure_api_version"])),
            applied_fingerprint=_optional_text(raw.get(_RAW["applied_fingerprint"])),
            rejected_fingerprint=_optional_text(raw.get(_RAW["rejected_fingerprint"])),
            secret_versions=_string_map(versions),
            last_applied_time=parse_time(raw.get(_RAW["last_applied_time"])),
            last_checked_time=parse_time(raw.get(_RAW["last_checked_time"])),
            azure_identity=_string_map(raw.get(_RAW["azure_identity"])),
            adopted=raw.get(_RAW["adopted"]) if isinstance(raw.get(_RAW["adopted"]), bool) else None,
            last_handled_reconcile_at=_optional_text(raw.get(_RAW["last_handled_reconcile_at"])),
        )

    def to_raw(self) -> dict[str, Any]:
        """The status as stored: only the fields that are set."""
        raw: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or value == ():
                continue
            if isinstance(value, dt.datetime):
                value = format_time(value)
            elif field.name == "conditions":
                value = [c.to_raw() for c in value]
            elif field.name in ("secret_versions", "azure_identity"):
                value = dict(sorted(value.items()))
            raw[_RAW[field.name]] = value
        return raw

    def replace(self, **changes: Any) -> Status:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def ready(self) -> Condition | None:
        """The Ready condition, if any."""
        return next((c for c in self.conditions if c.type == READY), None)

    def is_ready(self, generation: int) -> bool:
        """Whether Ready is True for `generation` (kstatus Current)."""
        ready = self.ready
        return bool(ready and ready.status == "True" and ready.observed_generation == generation)


# Attribute -> field name in `.status`: the one table of status keys.
_RAW: Final = {
    "observed_generation": "observedGeneration",
    "observed_generation_time": "observedGenerationTime",
    "conditions": "conditions",
    "id": "id",
    "group": "group",
    "azure_api_version": "azureApiVersion",
    "applied_fingerprint": "appliedFingerprint",
    "rejected_fingerprint": "rejectedFingerprint",
    "secret_versions": "secretVersions",
    "last_applied_time": "lastAppliedTime",
    "last_checked_time": "lastCheckedTime",
    "azure_identity": "azureIdentity",
    "adopted": "adopted",
    "last_handled_reconcile_at": "lastHandledReconcileAt",
}
FIELDS: Final = tuple(_RAW.values())


def raw_fields(*attributes: str) -> tuple[str, ...]:
    """The `.status` keys of some Status attributes."""
    return tuple(_RAW[a] for a in attributes)


# The operator framework's (Kopf's) own records: handler progress and the last handled spec. The operator
# neither reads nor patches it; it is in status so that Kopf's bookkeeping and the pass's status are one patch.
FRAMEWORK_FIELD: Final = "kopf"
CONDITION_FIELDS: Final = ("type", "status", "reason", "message", "observedGeneration", "lastTransitionTime")


def patch(before: Mapping[str, Any] | None, after: Status) -> dict[str, Any]:
    """The merge patch from the stored status `before` to `after`, over the fields the operator owns (None
    removes a field). Empty when nothing changed, so an unchanged pass writes nothing."""
    before = before if isinstance(before, Mapping) else {}
    wanted = after.to_raw()
    changes: dict[str, Any] = {k: v for k, v in wanted.items() if before.get(k) != v}
    changes.update({k: None for k in FIELDS if k in before and k not in wanted})
    return changes


def secret_versions_of(raw: Mapping[str, Any] | None) -> Mapping[str, str]:
    """The Secret versions a stored status says were applied, read leniently (for the Secret index)."""
    return Status.from_raw(raw).secret_versions or {}


def _string_map(value: Any) -> dict[str, str] | None:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
