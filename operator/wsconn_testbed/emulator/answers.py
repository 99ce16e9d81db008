"""What the service answers, as the recordings show it (tests/fixtures/recordings/README.md).

Every api-version from 2024-04-01-preview on answers with the same, 2025-12-01-era property set, in the
service's order, whatever the request sent: `authType, credentials, group, category, expiryTime, target,
createdByWorkspaceArmId, useWorkspaceManagedIdentity, isSharedToAll, sharedUserList, peRequirement,
peStatus, error, isDefault, metadata`, inside the envelope `tags, location, id, name, type, properties,
systemData`. `credentials` is `null` for every authType that has credentials (their values only through
listsecrets) and absent for `AAD` and `None`; `value` and `valueFormat` are never returned. 2022-05-01
answers with the pre-V2 shape: `authType, category, target, metadata`, `systemData: null`. A missing
connection is the RP's own 404 body, not ARM's ErrorResponse.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from wsconn_testbed.emulator import categories, contract
from wsconn_testbed.emulator.state import CONNECTION_TYPE, Connection, now_iso

LATEST = contract.API_VERSIONS[-1]


def resource(connection: Connection, api_version: str, *, with_secrets: bool = False) -> dict[str, Any]:
    """A connection as an api-version answers it; credentials only `with_secrets` (listsecrets)."""
    stored = connection.properties
    auth_type = stored.get("authType")
    properties: dict[str, Any] = {"authType": auth_type}
    if contract.has_credentials(api_version, str(auth_type)):
        properties["credentials"] = copy.deepcopy(connection.credentials) if with_secrets else None
    if contract.VERSIONS[api_version].legacy:
        properties |= {
            "category": stored.get("category"),
            "target": stored.get("target"),
            "metadata": copy.deepcopy(stored.get("metadata")),
        }
        return _envelope(connection, properties, None)
    properties |= {
        "group": categories.group_of(stored.get("category")),
        "category": stored.get("category"),
        "expiryTime": stored.get("expiryTime"),
        "target": stored.get("target"),
        "createdByWorkspaceArmId": connection.workspace.id,
        "useWorkspaceManagedIdentity": stored.get("useWorkspaceManagedIdentity", False),
        "isSharedToAll": stored.get("isSharedToAll", False),
        "sharedUserList": copy.deepcopy(stored.get("sharedUserList", [])),
        "peRequirement": stored.get("peRequirement", "NotRequired"),
        "peStatus": "NotApplicable",
        "error": None,
        "isDefault": True,
        "metadata": copy.deepcopy(stored.get("metadata") or {}),
    }
    system_data = {
        "createdAt": connection.created.at,
        "createdBy": connection.created.by,
        "createdByType": connection.created.by_type,
        "lastModifiedAt": connection.modified.at,
        "lastModifiedBy": connection.modified.by,
        "lastModifiedByType": connection.modified.by_type,
    }
    return _envelope(connection, properties, system_data)


def _envelope(connection: Connection, properties: dict[str, Any], system_data: Any) -> dict[str, Any]:
    return {
        "tags": None,
        "location": None,
        "id": connection.id,
        "name": connection.name,
        "type": CONNECTION_TYPE,
        "properties": properties,
        "systemData": system_data,
    }


def connection_not_found(name: str, location: str) -> dict[str, Any]:
    """The RP's 404 body for a connection that does not exist (recorded after every DELETE)."""
    return {
        "error": {
            "code": "UserError",
            "severity": None,
            "message": f"Connection {name} can't be found in this workspace",
            "messageFormat": None,
            "messageParameters": None,
            "referenceCode": None,
            "detailsUri": None,
            "target": None,
            "details": [],
            "innerError": {"code": "NotFoundError", "innerError": None},
            "debugInfo": None,
            "additionalInfo": None,
        },
        "correlation": {"operation": uuid.uuid4().hex, "request": secrets.token_hex(8)},
        "environment": location,
        "location": location,
        "time": now_iso(offset=True),
        "componentName": "account-rp",
        "statusCode": 404,
    }
