"""The WorkspaceConnection objects in tests/fixtures/status/ and what each health reader must say of them.

Each fixture is a whole object as the API server returned it. no-status, ready, ready-old-generation,
reconciling-transient and stalled-permanent were captured from an e2e run (tests/e2e/test_gitops_health.py
with WSCONN_CAPTURE_FIXTURES=1, which also checks the same expectations on the live objects); the others are
edited copies (skipped.json: ready.json with azureml.dev/reconcile-policy: skip and the conditions a skipped
pass writes, core/conditions.py). Argo CD's answer comes from deploy/argocd/health.lua, kstatus's from sigs.k8s.io/cli-utils
(what Flux uses). They agree except where kstatus knows a state Argo CD lacks:

- no status yet: the CRD defaults status to {observedGeneration: 0}, so both say the object is in progress
  until the operator has seen it.
- being deleted: kstatus says "Terminating"; Argo CD has no such state, the check says Progressing.
- skipped (azureml.dev/reconcile-policy: skip): Argo CD has a state for a resource paused on purpose,
  Suspended; kstatus has none and says InProgress (Ready is Unknown).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "status"

# file name -> (Argo CD health status, kstatus status)
EXPECTED: dict[str, tuple[str, str]] = {
    "ready.json": ("Healthy", "Current"),
    "ready-old-generation.json": ("Progressing", "InProgress"),
    "reconciling-transient.json": ("Progressing", "InProgress"),
    "stalled-permanent.json": ("Degraded", "Failed"),
    "stalled-old-generation.json": ("Progressing", "InProgress"),
    "no-status.json": ("Progressing", "InProgress"),
    "deleting.json": ("Progressing", "Terminating"),
    "skipped.json": ("Suspended", "InProgress"),
}


def fixture_names() -> list[str]:
    """The fixture files present."""
    return sorted(p.name for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    """One fixture object."""
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded
