"""What the CRD's CEL rules cost the API server per create: `python -m bench.cel [--count 300]`.

One local control plane serves two CRDs with the same schema: the operator's own (crds/), and a copy in
another API group with every `x-kubernetes-validations` rule removed. The same N WorkspaceConnections of the
benchmark's workload are created in each, alternating one by one so that load on the machine falls on both
alike, and the API server's own `apiserver_request_duration_seconds` (POST, per group) gives the server-side
time per create. The difference is what the rules cost; `apiserver_cel_evaluation_duration_seconds` is printed
beside it when the server reports it. Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.kube import GROUP, PLURAL, VERSION, Kube, kubectl
from bench.workload import Workspace, build, load_examples
from wsconn_testbed.controlplane import LocalControlPlane, find_binaries

REPO = Path(__file__).resolve().parents[1]
BARE_GROUP = "nocel.bench.wsconn.dev"
NAMESPACE = "cel"


def strip_rules(node: Any) -> Any:
    """The schema without any x-kubernetes-validations."""
    if isinstance(node, dict):
        return {k: strip_rules(v) for k, v in node.items() if k != "x-kubernetes-validations"}
    if isinstance(node, list):
        return [strip_rules(v) for v in node]
    return node


def bare_crd(crd: dict[str, Any]) -> dict[str, Any]:
    """The operator's CRD, renamed into BARE_GROUP, without its CEL rules."""
    bare: dict[str, Any] = strip_rules(copy.deepcopy(crd))
    bare["metadata"] = {"name": f"{PLURAL}.{BARE_GROUP}"}
    bare["spec"]["group"] = BARE_GROUP
    return bare


def post_durations(kube: Kube) -> dict[str, tuple[float, float]]:
    """(sum of seconds, count) of POSTs per API group for the workspaceconnections resource."""
    text = kube.client().get("/metrics").text
    out: dict[str, tuple[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request_duration_seconds":
            continue
        for sample in family.samples:
            labels = sample.labels
            if labels.get("verb") != "POST" or labels.get("resource") != PLURAL:
                continue
            total, count = out.get(labels.get("group", ""), (0.0, 0.0))
            if sample.name.endswith("_sum"):
                total += sample.value
            elif sample.name.endswith("_count"):
                count += sample.value
            out[labels.get("group", "")] = (total, count)
    return out


def cel_evaluation(kube: Kube) -> tuple[float, float] | None:
    """(sum, count) of the API server's CEL evaluation histogram, if it has one."""
    text = kube.client().get("/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "apiserver_cel_evaluation_duration_seconds":
            total = sum(s.value for s in family.samples if s.name.endswith("_sum"))
            count = sum(s.value for s in family.samples if s.name.endswith("_count"))
            return total, count
    return None


def measure(count: int, work: Path) -> dict[str, Any]:
    """Create `count` objects in each CRD, alternating; the server-side time per create in each."""
    plane = LocalControlPlane(find_binaries(), work / "controlplane")
    cluster = plane.start()
    try:
        kube = Kube(cluster)
        crd = yaml.safe_load((REPO / "crds" / f"{GROUP}_{PLURAL}.yaml").read_text())
        kubectl(cluster, work, "apply", "--server-side", "-f", str(REPO / "crds"))
        kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bare_crd(crd))
        kube.wait_crd_established(f"{PLURAL}.{GROUP}")
        kube.wait_crd_established(f"{PLURAL}.{BARE_GROUP}")
        kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        workspace = Workspace(str(uuid.uuid4()), "rg-cel", "ws-cel")
        items = build(load_examples(REPO), count, [NAMESPACE], [workspace], "cel")
        time.sleep(2)  # let discovery settle before the first create
        before, cel_before = post_durations(kube), cel_evaluation(kube)
        client_seconds = {GROUP: 0.0, BARE_GROUP: 0.0}
        with kube.client() as http:
            for item in items:
                for group in (GROUP, BARE_GROUP):
                    obj = copy.deepcopy(item.connection)
                    obj["apiVersion"] = f"{group}/{VERSION}"
                    start = time.perf_counter()
                    answer = http.post(f"/apis/{group}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}", json=obj)
                    client_seconds[group] += time.perf_counter() - start
                    if answer.status_code >= 400:
                        raise RuntimeError(f"create in {group}: {answer.status_code} {answer.text[:300]}")
        after, cel_after = post_durations(kube), cel_evaluation(kube)
    finally:
        plane.stop()
    result: dict[str, Any] = {"count": count, "rules": len(_rules(crd))}
    for group, label in ((GROUP, "with_cel"), (BARE_GROUP, "without_cel")):
        total = after.get(group, (0.0, 0.0))[0] - before.get(group, (0.0, 0.0))[0]
        n = after.get(group, (0.0, 0.0))[1] - before.get(group, (0.0, 0.0))[1]
        result[label] = {
            "server_ms_per_create": round(1000 * total / n, 2) if n else None,
            "client_ms_per_create": round(1000 * client_seconds[group] / count, 2),
            "creates_counted": n,
        }
    with_ms, without_ms = (
        result["with_cel"]["server_ms_per_create"],
        result["without_cel"]["server_ms_per_create"],
    )
    if with_ms is not None and without_ms is not None:
        result["cel_ms_per_create"] = round(with_ms - without_ms, 2)
    if cel_before is not None and cel_after is not None:
        result["apiserver_cel_evaluation_seconds"] = round(cel_after[0] - cel_before[0], 4)
        result["apiserver_cel_evaluations"] = cel_after[1] - cel_before[1]
    return result


def _rules(node: Any) -> list[Any]:
    if isinstance(node, dict):
        found = list(node.get("x-kubernetes-validations", []))
        for key, value in node.items():
            if key != "x-kubernetes-validations":
                found += _rules(value)
        return found
    if isinstance(node, list):
        return [r for v in node for r in _rules(v)]
    return []


def main(argv: list[str]) -> int:
    """Run and print the JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.cel", description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="objects per CRD (default 300)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wsconn-cel-") as work:
        print(json.dumps(measure(args.count, Path(work)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
