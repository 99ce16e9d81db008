"""The user docs point only at what the repository holds: every relative Markdown link resolves, and no doc
cites the developers' shared folder or another path outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.chart.tools import ROOT

DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md", ROOT / "bench" / "README.md"])


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(doc: Path) -> None:
    text = doc.read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    broken = [
        t for t in targets if not t.startswith(("http://", "https://")) and not (doc.parent / t).exists()
    ]
    assert not broken, f"{doc.name} links to missing files: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert not re.search(r"(?<![\w/-])(\.\./)+shared\b|(?<![\w/.-])shared/\w", text), doc.name
    assert "/work/" not in text, doc.name
