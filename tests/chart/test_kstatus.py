"""kstatus (sigs.k8s.io/cli-utils, what Flux reads health with) over the status fixtures.

hack/kstatus is a small Go program around kstatus's status.Compute, built (or reused from its cache) by
hack/build-kstatus. This proves that the conditions the operator writes mean to kstatus what
docs/install.md says: Current when Ready for the current generation, InProgress while an edit is unobserved
or a transient failure is retried, Failed when Stalled.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.chart.status_fixtures import EXPECTED, fixture_names, load
from tests.chart.tools import kstatus


def compute(*objects: dict[str, Any], raw: str | None = None) -> list[dict[str, str]]:
    """kstatus results, one per object, for `objects` (or `raw` input text)."""
    text = raw if raw is not None else "\n".join(json.dumps(o) for o in objects)
    proc = subprocess.run([kstatus()], input=text, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_every_fixture_has_an_expectation() -> None:
    assert fixture_names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_status(name: str) -> None:
    [result] = compute(load(name))
    assert result["status"] == EXPECTED[name][1], result
    meta = load(name)["metadata"]
    assert (result["kind"], result["namespace"], result["name"]) == (
        "WorkspaceConnection",
        meta["namespace"],
        meta["name"],
    )


def _stalled_message(obj: dict[str, Any]) -> str:
    return str(next(c["message"] for c in obj["status"]["conditions"] if c["type"] == "Stalled"))


def test_messages() -> None:
    stalled_obj, stale_obj = load("stalled-permanent.json"), load("ready-old-generation.json")
    stalled, stale, transient = compute(stalled_obj, stale_obj, load("reconciling-transient.json"))
    assert stalled["message"] == _stalled_message(stalled_obj)
    assert stalled["message"].startswith("spec.credentials.key.secretKeyRef: Secret")
    generation = stale_obj["metadata"]["generation"]
    assert stale["message"] == (
        f"WorkspaceConnection generation is {generation}, but latest observed generation is {generation - 1}"
    )
    assert "503" in transient["message"]


def test_reads_a_list_as_kubectl_prints_it() -> None:
    names = sorted(EXPECTED)
    items = [load(n) for n in names]
    for i, item in enumerate(items):
        item["metadata"]["name"] = f"conn-{i}"
    listing = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
    results = compute(raw=json.dumps(listing, indent=2))
    assert [r["name"] for r in results] == [f"conn-{i}" for i in range(len(names))]
    assert [r["status"] for r in results] == [EXPECTED[n][1] for n in names]


def test_rejects_input_that_is_not_json() -> None:
    proc = subprocess.run(
        [kstatus()], input="status: Ready\n", capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert "kstatus:" in proc.stderr
