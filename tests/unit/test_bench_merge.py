"""bench/merge.py: one results page from several runs, each column as its run wrote it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench import report
from bench.merge import MergeError, main, merge

MACHINE = {
    "nproc": 2,
    "memory_gib": 23.5,
    "cpu_model": "AMD EPYC",
    "kernel": "6.1",
    "python": "3.11.7",
    "kopf": "1.38.0",
    "operator": "0.1.0",
    "kube_apiserver": "kube-apiserver v1.36.3",
    "etcd": "etcd 3.4.23",
}


def run(command: str, *sizes: int, wall: float = 10.0, **machine: Any) -> dict[str, Any]:
    return {
        "date": "2026-12-03",
        "command": command,
        "machine": {**MACHINE, **machine},
        "settings": {"latency": [0.1, 0.3]},
        "sizes": [{"n": n, "plan": {"size": n}, "checks": {"all_ready": True}} for n in sizes],
        "errors": [{"n": 7, "error": "boom"}] if command.endswith("7") else [],
        "wall_seconds": wall,
    }


def test_the_columns_come_in_the_order_of_the_runs_with_their_commands_errors_and_time() -> None:
    merged = merge(
        [
            run("bench/run --sizes 100,1000", 100, 1000, wall=500.5),
            run("bench/run --sizes 7", 10000, wall=1.0),
        ],
        date="2026-12-03",
        notes=["which run is which"],
    )
    assert [s["n"] for s in merged["sizes"]] == [100, 1000, 10000]
    assert merged["command"] == "bench/run --sizes 100,1000; bench/run --sizes 7"
    assert merged["errors"] == [{"n": 7, "error": "boom"}]
    assert merged["wall_seconds"] == 501.5
    assert merged["notes"] == ["which run is which"]


def test_runs_that_would_not_compare_are_refused() -> None:
    with pytest.raises(MergeError, match="cpu_model"):
        merge([run("a", 100), run("b", 1000, cpu_model="Intel")], date="d", notes=[])
    other = run("b", 1000)
    other["settings"] = {"latency": [0.2, 0.4]}
    with pytest.raises(MergeError, match="settings"):
        merge([run("a", 100), other], date="d", notes=[])
    with pytest.raises(MergeError, match="no runs"):
        merge([], date="d", notes=[])
    assert merge([run("a", 100), run("b", 1000, operator="0.2.0")], date="d", notes=[])["sizes"]
    with pytest.raises(MergeError, match="1 labels for 2 runs"):
        merge([run("a", 100), run("b", 1000)], date="d", notes=[], labels=["after"])


def test_labels_mark_each_runs_columns() -> None:
    merged = merge([run("a", 100), run("b", 100)], date="d", notes=[], labels=["after", "before"])
    assert [report.column_name(size) for size in merged["sizes"]] == ["N = 100 (after)", "N = 100 (before)"]


def test_the_command_line_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for i, r in enumerate([run("bench/run --sizes 100", 100), run("bench/run --sizes 10000", 10000)]):
        paths.append(tmp_path / f"run{i}.json")
        paths[-1].write_text(json.dumps(r))
    out = tmp_path / "results"
    assert main([*map(str, paths), "--out", str(out), "--stem", "2026-12-03", "--note", "n1"]) == 0
    page = (out / "2026-12-03.md").read_text()
    assert "Command: `bench/run --sizes 100; bench/run --sizes 10000` (20 s wall time)" in page
    assert "- n1" in page
    assert json.loads((out / "2026-12-03.json").read_text())["notes"] == ["n1"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(run("x", 1, cpu_model="Intel")))
    assert main([str(paths[0]), str(bad), "--out", str(out), "--stem", "s"]) == 2
    assert "different machines" in capsys.readouterr().err
