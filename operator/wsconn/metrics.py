"""Prometheus metrics (served on --metrics-port at /metrics).

Names follow Prometheus conventions; labels are low-cardinality (no resource names), except the one
per-resource gauge, wsconn_workspaceconnection_condition, which is bounded: six series per resource (three
condition types, two statuses), removed when the resource goes. It is computed at scrape time from one small
tuple per resource: as labelled children of a prometheus_client Gauge its six series took about 4.3 KB per
resource (41 MiB at 10,000; issue 16). docs/metrics.md is generated from this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

RECONCILES = Counter(
    "wsconn_reconciles_total", "Reconcile passes by outcome state and reason.", ["state", "reason"]
)
ARM_REQUESTS = Counter(
    "wsconn_arm_requests_total", "ARM requests by method and status (0: no answer).", ["method", "status"]
)
ARM_LATENCY = Histogram(
    "wsconn_arm_request_duration_seconds",
    "ARM request latency by method.",
    ["method"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ARM_THROTTLED = Counter("wsconn_arm_throttled_total", "ARM answers 429 (throttled), by method.", ["method"])
ARM_WRITES = Counter("wsconn_arm_writes_total", "Connection PUTs that succeeded.")
RESOURCES = Gauge(
    "wsconn_resources", "WorkspaceConnections known to this replica, by Ready status.", ["ready"]
)
SECRET_TRIGGERS = Counter(
    "wsconn_secret_triggers_total", "Resources re-reconciled because a Secret they use changed."
)

CONDITION_TYPES = ("Ready", "Reconciling", "Stalled")


class ConditionGauge:
    """The per-resource condition gauge, collected at scrape time from {(namespace, name): statuses}."""

    _name = "wsconn_workspaceconnection_condition"
    _type = "gauge"
    _labelnames = ("resource_namespace", "resource_name", "condition", "status")
    _documentation = (
        "1 for each WorkspaceConnection's current status of each condition (Ready, Reconciling, Stalled), 0"
        " for the other status; as External Secrets' externalsecret_status_condition. The resource is"
        " resource_namespace/resource_name: a bare `namespace` label would clash with the scrape target's."
    )

    def __init__(self) -> None:
        self._current: dict[tuple[str, str], tuple[str | None, ...]] = {}

    def set(self, namespace: str, name: str, statuses: tuple[str | None, ...]) -> None:
        """A resource's status of each of CONDITION_TYPES."""
        self._current[(namespace, name)] = statuses

    def drop(self, namespace: str, name: str) -> None:
        """Forget a resource."""
        self._current.pop((namespace, name), None)

    def describe(self) -> list[GaugeMetricFamily]:
        """The family without samples (so registering does not collect)."""
        return [GaugeMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """Six samples per resource, made now."""
        family = GaugeMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for (namespace, name), statuses in list(self._current.items()):
            for kind, current in zip(CONDITION_TYPES, statuses, strict=True):
                for status in ("True", "False"):
                    family.add_metric([namespace, name, kind, status], 1 if current == status else 0)
        yield family


CONDITIONS = ConditionGauge()
REGISTRY.register(CONDITIONS)


def record_conditions(namespace: str, name: str, conditions: Iterable[Mapping[str, Any]]) -> None:
    """Publish a resource's conditions; only the three kstatus types and True/False, so nothing a user
    writes can add series."""
    current = {c.get("type"): c.get("status") for c in conditions}
    statuses = tuple(_status(current.get(kind)) for kind in CONDITION_TYPES)
    CONDITIONS.set(namespace, name, statuses)


def forget_conditions(namespace: str, name: str) -> None:
    """Drop a deleted resource's series."""
    CONDITIONS.drop(namespace, name)


def _status(value: Any) -> str | None:
    """ "True"/"False" (shared constants, not one string per resource), or None for anything else."""
    return {"True": "True", "False": "False"}.get(value) if isinstance(value, str) else None


def observe_arm(method: str, status: int, seconds: float) -> None:
    """The ARM client's observer."""
    ARM_REQUESTS.labels(method, str(status)).inc()
    if method == "PUT" and 200 <= status < 300:
        ARM_WRITES.inc()
    ARM_LATENCY.labels(method).observe(seconds)
    if status == 429:
        ARM_THROTTLED.labels(method).inc()


class ReadyTracker:
    """Counts resources by Ready status for the `wsconn_resources` gauge."""

    def __init__(self) -> None:
        self._ready: dict[str, str] = {}
        # Kept in step with _ready: recounting every resource on every pass made N passes cost O(N^2).
        self._counts: dict[str, int] = {"True": 0, "False": 0}

    def set(self, uid: str, ready: str) -> None:
        """Record the Ready status ("True"/"False") of a resource."""
        before = self._ready.get(uid)
        if before == ready:
            return
        if before is not None:
            self._counts[before] -= 1
        self._ready[uid] = ready
        self._counts[ready] = self._counts.get(ready, 0) + 1
        self._publish()

    def drop(self, uid: str) -> None:
        """Forget a deleted resource."""
        before = self._ready.pop(uid, None)
        if before is not None:
            self._counts[before] -= 1
        self._publish()

    def counts(self) -> Mapping[str, int]:
        """Resources per Ready status."""
        return dict(self._counts)

    def _publish(self) -> None:
        for ready, count in self._counts.items():
            RESOURCES.labels(ready).set(count)
