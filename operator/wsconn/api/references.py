"""References that travel through the shell: a Secret and a WorkspaceConnection, each with its namespace.

The spec's `SecretKeyRef` names a Secret without a namespace, by design: a resource may only read Secrets of
its own namespace (docs/design.md §5). The shell binds that namespace once, where a spec meets its object, so no
layer below it (the Secret reader, the Secret-change index, the trigger) can name a Secret by a bare name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SecretRef:
    """A Secret: namespace and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """A WorkspaceConnection: namespace and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def secret(self, name: str) -> SecretRef:
        """A Secret of this object's namespace (the only namespace it may read)."""
        return SecretRef(self.namespace, name)

    def secrets(self, names: Iterable[str]) -> tuple[SecretRef, ...]:
        """Secrets of this object's namespace, sorted."""
        return tuple(sorted({self.secret(n) for n in names}))
