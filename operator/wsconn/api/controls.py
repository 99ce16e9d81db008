"""The annotations a user sets on a WorkspaceConnection (docs/design.md §2), the controls Flux and Argo CD users
expect, read leniently from the object's metadata (pure; docs/crd.md says how to use them).

- `azureml.dev/reconcile-policy: skip`: no ARM call for the resource (spec edits, Secret rotations, drift
  checks), and its deletion leaves Azure alone; removing it applies the current spec. Any other value, or
  none, is the normal policy (`manage`).
- `azureml.dev/reconcile-requested-at: <any string>`: a value not handled yet runs a full pass at once (drift
  GET included, a spec Azure rejected sent again); the value handled is echoed in
  `status.lastHandledReconcileAt`, as Flux's `reconcile.fluxcd.io/requestedAt` is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

RECONCILE_POLICY: Final = "azureml.dev/reconcile-policy"
SKIP: Final = "skip"
RECONCILE_REQUESTED_AT: Final = "azureml.dev/reconcile-requested-at"


def skipped(annotations: Mapping[str, Any]) -> bool:
    """Whether the user asked the operator to leave this resource alone."""
    return annotations.get(RECONCILE_POLICY) == SKIP


def requested_at(annotations: Mapping[str, Any]) -> str | None:
    """The reconcile request the user set (None: none)."""
    value = annotations.get(RECONCILE_REQUESTED_AT)
    return value if isinstance(value, str) and value else None
