"""ARM resource IDs of workspace connections."""

from __future__ import annotations

from wsconn.api.spec import ConnectionSpec

PROVIDER = "Microsoft.MachineLearningServices"
RESOURCE_TYPE = f"{PROVIDER}/workspaces/connections"


def connection_id(spec: ConnectionSpec) -> str:
    """The ARM ID of the connection the spec describes."""
    ws = spec.workspace
    return (
        f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
        f"/providers/{PROVIDER}/workspaces/{ws.name}/connections/{spec.connection_name}"
    )


def subscription_of(resource_id: str) -> str:
    """The subscription segment of an ARM ID ('' when there is none)."""
    parts = resource_id.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "subscriptions":
            return parts[i + 1]
    return ""
