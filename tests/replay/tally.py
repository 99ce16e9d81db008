"""The replay tiers' counts for the run's summary (a module of its own, so that the root conftest, which
pytest-xdist's controller loads, and the tiers' tests, which workers run, share it)."""

from __future__ import annotations

from collections import Counter

COUNTS: dict[str, Counter[str]] = {}
"""tier -> files, interactions, exact (interactions reproduced exactly), values, exempt, headers."""


def record(tier: str, **counts: int) -> None:
    """Add one replayed file's counts to a tier."""
    COUNTS.setdefault(tier, Counter()).update(counts)


def merge(other: dict[str, dict[str, int]]) -> None:
    """Fold in a worker's counts."""
    for tier, counts in other.items():
        COUNTS.setdefault(tier, Counter()).update(counts)


def summary_lines() -> list[str]:
    """One line per tier, e.g. `replay (emulator): 10 files, 44 interactions, ...`."""
    lines = []
    for tier, c in sorted(COUNTS.items()):
        share = f"{100 * c['exact'] / c['interactions']:.1f}%" if c["interactions"] else "n/a"
        lines.append(
            f"replay ({tier}): {c['files']} files, {c['interactions']} interactions, {c['values']} values "
            f"compared exactly, {c['exempt']} exempt values checked for shape, {c['headers']} headers checked; "
            f"fidelity {c['exact']}/{c['interactions']} interactions reproduced exactly ({share})"
        )
    return lines
