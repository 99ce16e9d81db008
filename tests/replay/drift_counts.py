"""The drift replay's counts in the run's terminal summary: each file's test records its tally as a user
property of its report (reports travel from pytest-xdist workers to the controller), the root conftest's
summary hook calls `summary_lines`."""

from __future__ import annotations

from typing import Any

REPORT_KEY = "drift_replay"
COUNTS = ("responses", "deep_checks", "differences", "adjusted_puts")


def summary_lines(terminalreporter: Any) -> list[str]:
    """One line with the drift replay's totals, or none when it did not run."""
    reports = [
        dict(value)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "") == "call"
        for key, value in getattr(report, "user_properties", ())
        if key == REPORT_KEY
    ]
    if not reports:
        return []
    total = {k: sum(int(r[k]) for r in reports) for k in COUNTS}
    line = (
        f"drift replay: {len(reports)} recording files, {total['responses']} responses compared "
        f"({total['deep_checks']} listsecrets deep checks), {total['differences']} differences"
    )
    if total["adjusted_puts"]:
        notes = sorted({str(n) for r in reports for n in r["notes"]})
        line += f"; {total['adjusted_puts']} PUTs written as the closest spec of ours ({'; '.join(notes)})"
    return [line]
