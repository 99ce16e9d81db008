"""The emulator's resources: subscriptions, resource groups, workspaces and their connections.

Names compare case-insensitively and are echoed with the casing of the request that created them, as the ARM
RPC requires. Credentials live beside the non-secret properties and leave this module only through
`with_secrets` (listsecrets) or `credential_digest` (tests comparing without seeing values).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

PROVIDER = "Microsoft.MachineLearningServices"
CONNECTION_TYPE = f"{PROVIDER}/workspaces/connections"

# ConnectionGroup is read-only and derived by the service from the category; the contract gives the enum,
# not the mapping, so this is the emulator's reading of the category names.
_GROUPS = {
    "AzureAI": {
        "azureopenai",
        "aiservices",
        "cognitivesearch",
        "cognitiveservice",
        "openai",
        "serverless",
        "managedonlineendpoint",
        "bingllmsearch",
        "serp",
    },
    "Azure": {
        "adlsgen2",
        "azureblob",
        "azureonelake",
        "azuresqldb",
        "azuresynapseanalytics",
        "azuremysqldb",
        "azurepostgresdb",
        "azuredataexplorer",
        "azuremariadb",
        "azuredatabricksdeltalake",
        "azuresqlmi",
        "azuretablestorage",
    },
    "NoSQL": {
        "cosmosdb",
        "cosmosdbmongodbapi",
        "cassandra",
        "couchbase",
        "mongodbv2",
        "mongodbatlas",
        "redis",
        "pinecone",
        "elasticsearch",
    },
    "File": {
        "s3",
        "amazons3compatible",
        "fileserver",
        "ftpserver",
        "googlecloudstorage",
        "hdfs",
        "oraclecloudstorage",
        "sftp",
    },
    "GenericProtocol": {
        "pythonfeed",
        "containerregistry",
        "git",
        "generichttp",
        "odatarest",
        "odbc",
        "genericrest",
        "genericcontainerregistry",
        "apikey",
        "customkeys",
    },
}


def group_of(category: str | None) -> str:
    """The ConnectionGroup the emulator reports for a category."""
    lowered = (category or "").lower()
    for group, members in _GROUPS.items():
        if lowered in members:
            return group
    return "Database" if lowered in _DATABASES else "ServicesAndApps"


_DATABASES = {
    "snowflake",
    "amazonrdsfororacle",
    "amazonrdsforsqlserver",
    "amazonredshift",
    "db2",
    "drill",
    "googlebigquery",
    "greenplum",
    "hbase",
    "hive",
    "impala",
    "informix",
    "mariadb",
    "microsoftaccess",
    "mysql",
    "netezza",
    "oracle",
    "phoenix",
    "postgresql",
    "presto",
    "sapopenhub",
    "sapbw",
    "saphana",
    "saptable",
    "spark",
    "sqlserver",
    "sybase",
    "teradata",
    "vertica",
}


def _key(*parts: str) -> tuple[str, ...]:
    return tuple(p.lower() for p in parts)


def now_iso() -> str:
    """Current UTC time in ARM's format."""
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Connection:
    """One stored workspace connection."""

    id: str
    name: str
    properties: dict[str, Any]
    credentials: dict[str, Any] | None
    created_at: str
    created_by: str
    modified_at: str
    modified_by: str
    writes: int = 1

    def resource(self) -> dict[str, Any]:
        """The ARM representation without credentials (GET, PUT, PATCH, list)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": CONNECTION_TYPE,
            "properties": copy.deepcopy(self.properties),
            "systemData": {
                "createdAt": self.created_at,
                "createdBy": self.created_by,
                "createdByType": "Application",
                "lastModifiedAt": self.modified_at,
                "lastModifiedBy": self.modified_by,
                "lastModifiedByType": "Application",
            },
        }

    def with_secrets(self) -> dict[str, Any]:
        """The representation listsecrets returns."""
        out = self.resource()
        if self.credentials is not None:
            out["properties"]["credentials"] = copy.deepcopy(self.credentials)
        return out

    def credential_digest(self) -> str:
        """SHA-256 of the canonical credentials JSON ('' when none), for comparisons without values."""
        if self.credentials is None:
            return ""
        canonical = json.dumps(self.credentials, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Store:
    """Everything the emulator knows; not thread-safe (one event loop owns it)."""

    subscriptions: dict[str, str] = field(default_factory=dict)
    resource_groups: dict[tuple[str, ...], str] = field(default_factory=dict)
    workspaces: dict[tuple[str, ...], str] = field(default_factory=dict)
    connections: dict[tuple[str, ...], Connection] = field(default_factory=dict)

    def add_workspace(self, subscription: str, resource_group: str, workspace: str) -> str:
        """Make a workspace (and its subscription and resource group) exist; returns its ARM id."""
        self.subscriptions.setdefault(subscription.lower(), subscription)
        self.resource_groups.setdefault(_key(subscription, resource_group), resource_group)
        ws_id = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/{PROVIDER}/workspaces/{workspace}"
        )
        self.workspaces.setdefault(_key(subscription, resource_group, workspace), ws_id)
        return self.workspaces[_key(subscription, resource_group, workspace)]

    def remove_workspace(self, subscription: str, resource_group: str, workspace: str) -> int:
        """Delete a workspace and its connections; returns how many connections went with it."""
        ws = _key(subscription, resource_group, workspace)
        self.workspaces.pop(ws, None)
        gone = [k for k in self.connections if k[:3] == ws]
        for k in gone:
            del self.connections[k]
        return len(gone)

    def remove_resource_group(self, subscription: str, resource_group: str) -> None:
        """Delete a resource group with everything in it."""
        rg = _key(subscription, resource_group)
        self.resource_groups.pop(rg, None)
        for ws in [k for k in self.workspaces if k[:2] == rg]:
            self.remove_workspace(*ws)

    def missing_parent(
        self, subscription: str, resource_group: str, workspace: str
    ) -> tuple[str, str] | None:
        """(code, message) of the first missing parent, as ARM reports it; None when all exist."""
        if subscription.lower() not in self.subscriptions:
            return "SubscriptionNotFound", f"The subscription '{subscription}' could not be found."
        if _key(subscription, resource_group) not in self.resource_groups:
            return "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found."
        if _key(subscription, resource_group, workspace) not in self.workspaces:
            return (
                "ParentResourceNotFound",
                "Can not perform requested operation on nested resource. "
                f"Parent resource '{workspace}' not found.",
            )
        return None

    def subscription_known(self, subscription: str) -> bool:
        """Whether the subscription exists."""
        return subscription.lower() in self.subscriptions

    def resource_group_known(self, subscription: str, resource_group: str) -> bool:
        """Whether the resource group exists."""
        return _key(subscription, resource_group) in self.resource_groups

    def get(self, subscription: str, resource_group: str, workspace: str, name: str) -> Connection | None:
        """The connection, if it exists."""
        return self.connections.get(_key(subscription, resource_group, workspace, name))

    def put(
        self,
        subscription: str,
        resource_group: str,
        workspace: str,
        name: str,
        *,
        properties: dict[str, Any],
        principal: str,
    ) -> Connection:
        """Create or replace; the stored casing of an existing name is kept (ARM RPC)."""
        key = _key(subscription, resource_group, workspace, name)
        ws_id = self.workspaces[key[:3]]
        credentials = properties.pop("credentials", None)
        properties["group"] = group_of(properties.get("category"))
        properties["createdByWorkspaceArmId"] = ws_id
        now = now_iso()
        existing = self.connections.get(key)
        if existing is None:
            connection = Connection(
                id=f"{ws_id}/connections/{name}",
                name=name,
                properties=properties,
                credentials=credentials,
                created_at=now,
                created_by=principal,
                modified_at=now,
                modified_by=principal,
            )
            self.connections[key] = connection
            return connection
        existing.properties, existing.credentials = properties, credentials
        existing.modified_at, existing.modified_by = now, principal
        existing.writes += 1
        return existing

    def delete(self, subscription: str, resource_group: str, workspace: str, name: str) -> bool:
        """Delete; True when it existed."""
        return self.connections.pop(_key(subscription, resource_group, workspace, name), None) is not None

    def in_workspace(self, subscription: str, resource_group: str, workspace: str) -> list[Connection]:
        """Connections of a workspace in a stable order (by lower-cased name)."""
        ws = _key(subscription, resource_group, workspace)
        return [c for k, c in sorted(self.connections.items()) if k[:3] == ws]

    def find(self, resource_id: str) -> tuple[tuple[str, ...], Connection] | None:
        """Look a connection up by its ARM id (any casing)."""
        parts = resource_id.strip("/").split("/")
        if len(parts) != 10:
            return None
        key = _key(parts[1], parts[3], parts[7], parts[9])
        found = self.connections.get(key)
        return (key, found) if found else None
