"""`python -m bench.merge --out DIR --stem DATE [--note TEXT ...] [--label TEXT ...] RUN.json ...`: one results page from several
runs of `bench/run`, each column from the run that measured it.

A results page that sets this operator's large case and Azure Service Operator's beside its own small ones
takes several invocations (their flags differ, and each run measures one workload on one control plane);
merging keeps every column exactly as its run wrote it. The page's command lists the runs' commands in order,
its wall time is their sum, and the notes say which column came from which run. Runs whose machine or ARM
latency differ are refused: their columns would not compare.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench import report

# Machine facts that must agree for columns to compare (the operator's version may differ between runs: the
# notes say which commit each column ran).
SAME_MACHINE = ("nproc", "memory_gib", "cpu_model", "kernel", "python", "kopf", "kube_apiserver", "etcd")


class MergeError(Exception):
    """The runs cannot share one page."""


def merge(
    runs: list[dict[str, Any]], *, date: str, notes: list[str], labels: list[str] | None = None
) -> dict[str, Any]:
    """One results dict holding every run's sizes in the order given; `labels`, one per run, mark its columns
    (as "before" and "after" a change, when both stand on the page)."""
    if not runs:
        raise MergeError("no runs to merge")
    if labels:
        if len(labels) != len(runs):
            raise MergeError(f"{len(labels)} labels for {len(runs)} runs")
        runs = [
            {**run, "sizes": [{**size, "label": label} for size in run["sizes"]]}
            for run, label in zip(runs, labels, strict=True)
        ]
    first = runs[0]
    for run in runs[1:]:
        differ = [k for k in SAME_MACHINE if run["machine"].get(k) != first["machine"].get(k)]
        if differ:
            raise MergeError(f"runs on different machines ({', '.join(differ)}): {run['command']}")
        if run["settings"] != first["settings"]:
            raise MergeError(f"runs with different settings ({run['settings']}): {run['command']}")
    return {
        "date": date,
        "command": "; ".join(run["command"] for run in runs),
        "machine": first["machine"],
        "settings": first["settings"],
        "sizes": [size for run in runs for size in run["sizes"]],
        "errors": [error for run in runs for error in run.get("errors") or []],
        "wall_seconds": round(sum(float(run["wall_seconds"]) for run in runs), 1),
        "notes": notes,
    }


def main(argv: list[str]) -> int:
    """Merge the runs named on the command line and write <stem>.json and <stem>.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="results JSON files of bench/run, in column order")
    parser.add_argument("--out", type=Path, required=True, help="results directory")
    parser.add_argument("--stem", required=True, help="file name without extension, normally the date")
    parser.add_argument("--note", action="append", default=[], help="a note for the page (repeatable)")
    parser.add_argument(
        "--label", action="append", default=[], help="a label for each run's columns (one per run, in order)"
    )
    args = parser.parse_args(argv)
    runs = [json.loads(path.read_text()) for path in args.runs]
    try:
        merged = merge(runs, date=args.stem, notes=args.note, labels=args.label)
    except MergeError as exc:
        print(f"bench.merge: {exc}", file=sys.stderr)
        return 2
    json_path, md_path = report.write(merged, args.out, args.stem)
    print(f"results: {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
