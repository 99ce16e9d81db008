"""The per-resource condition gauge, collected at scrape time."""

from __future__ import annotations

import gc
import tracemalloc

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from wsconn.metrics import CONDITIONS, ConditionGauge, record_conditions

NAME = "wsconn_workspaceconnection_condition"


def samples(gauge: ConditionGauge) -> dict[tuple[str, str, str, str], float]:
    registry = CollectorRegistry()
    registry.register(gauge)
    text = generate_latest(registry).decode()
    return {
        (
            s.labels["resource_namespace"],
            s.labels["resource_name"],
            s.labels["condition"],
            s.labels["status"],
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == NAME
    }


def test_six_series_per_resource_one_for_each_current_status() -> None:
    gauge = ConditionGauge()
    gauge.set("ml", "c", ("True", "False", None))
    assert samples(gauge) == {
        ("ml", "c", "Ready", "True"): 1,
        ("ml", "c", "Ready", "False"): 0,
        ("ml", "c", "Reconciling", "True"): 0,
        ("ml", "c", "Reconciling", "False"): 1,
        ("ml", "c", "Stalled", "True"): 0,
        ("ml", "c", "Stalled", "False"): 0,
    }
    gauge.drop("ml", "c")
    assert samples(gauge) == {}


def test_record_conditions_keeps_the_kstatus_types_and_true_false_only() -> None:
    record_conditions(
        "ml",
        "recorded",
        [
            {"type": "Ready", "status": "Unknown"},
            {"type": "Stalled", "status": "True"},
            {"type": "Invented", "status": "True"},
        ],
    )
    got = {k: v for k, v in samples(CONDITIONS).items() if k[1] == "recorded"}
    assert len(got) == 6
    assert got[("ml", "recorded", "Stalled", "True")] == 1
    assert got[("ml", "recorded", "Ready", "True")] == got[("ml", "recorded", "Ready", "False")] == 0


def test_a_resource_costs_a_few_hundred_bytes_not_kilobytes() -> None:
    gauge = ConditionGauge()
    names = [f"b{i:05d}-apikey" for i in range(2000)]  # the names exist anyway (Kopf holds the bodies)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for name in names:
        gauge.set("bench-a", name, ("True", "False", "False"))
    gc.collect()
    per_resource = (tracemalloc.get_traced_memory()[0] - before) / len(names)
    tracemalloc.stop()
    assert per_resource < 400, f"{per_resource:.0f} bytes per resource (labelled Gauge children: about 4,300)"
