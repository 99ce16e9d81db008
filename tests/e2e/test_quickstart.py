"""The README's quickstart, as a newcomer runs it: `wsconn-testbed demo --once` brings up its own control
plane, emulator and operator, applies examples/ and must report every connection Ready."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import repo_root


def test_demo_reports_every_example_ready(local_plane: object) -> None:
    del local_plane  # only to share the e2e prerequisites (binaries present, or a failure under CI)
    examples = len(list((repo_root() / "examples").glob("*.yaml")))
    demo = Path(sys.executable).with_name("wsconn-testbed")
    proc = subprocess.run(
        [str(demo), "demo", "--once"],
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{examples} connections Ready against the emulator." in proc.stdout
    rows = [line for line in proc.stdout.splitlines() if line.startswith("example-")]
    assert len(rows) == examples
    assert all(line.split()[1] == "True" for line in rows), rows
