"""ARM resource IDs of workspace connections."""

from __future__ import annotations

from wsconn.api.spec import ConnectionSpec

PROVIDER = "Microsoft.MachineLearningServices"


def connection_id(spec: ConnectionSpec) -> str:
    """The ARM ID of the connection the spec describes."""
    ws = spec.workspace
    return (
        f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
        f"/providers/{PROVIDER}/workspaces/{ws.name}/connections/{spec.connection_name}"
    )


def subscription_of(resource_id: str) -> str:
    """The subscription segment of an ARM ID ('' when there is none)."""
    return _segment(resource_id, "subscriptions")


def scope_of(resource_id: str) -> tuple[str, str]:
    """Where a connection lives, for sharing out ARM slots: (subscription, resource group/workspace), lower
    case as ARM compares them ('' for a part the ID lacks)."""
    workspace = f"{_segment(resource_id, 'resourceGroups')}/{_segment(resource_id, 'workspaces')}"
    return subscription_of(resource_id).lower(), workspace.lower()


def _segment(resource_id: str, name: str) -> str:
    parts = resource_id.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == name.lower():
            return parts[i + 1]
    return ""
