"""The ARM contract as the emulator reads it: which api-versions exist, which pinned schema validates each
one's request bodies, the connection-name rule, and the tolerances the real service shows.

The pinned contract files (`wsconn.arm.contract`) are read as data only. 2024-04-01 and 2025-06-01 are
validated by their swagger subsets (`swagger.py`), 2025-09-01 and later by their bicep-types subsets
(`bicep.py`). The two api-versions only the recordings use are validated by the oldest pinned swagger,
2024-04-01: `2024-04-01-preview` (its GA successor) and `2022-05-01` (no older contract is pinned).

Tolerances, because the service and the official SDK behave so (the recordings; CONNECTIONS.md sections 5, 6
and 8): enum values (authType, category) match case-insensitively; null metadata values are accepted (and
kept); `AccountKey` credentials may carry `sas` instead of `key` (azure-ai-ml sends `sas`), stored as `key`;
a top-level `name` equal to the URL's name is accepted although the contract marks it read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol

from wsconn_testbed.emulator.bicep import BicepSchema
from wsconn_testbed.emulator.swagger import SwaggerSchema

NAME_CHARACTERS = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
MIN_NAME_LENGTH = 3
DEFAULT_MAX_NAME_LENGTH = 64
"""The operator's bound; the service accepted 34 characters (the recordings), beyond the spec's 33."""
RESOURCE_GROUP_PATTERN = re.compile(r"^[-\w._()]{1,90}$")


@dataclass(frozen=True)
class ApiVersion:
    """One api-version ARM accepts for connections."""

    name: str
    schema: str
    """The pinned contract folder whose schema validates request bodies."""
    reader: Literal["swagger", "bicep"]
    legacy: bool = False
    """Answers in the pre-V2 shape (2022-05-01)."""
    patch: bool = False
    """PATCH exists (added in 2025-06-01)."""


VERSIONS: dict[str, ApiVersion] = {
    v.name: v
    for v in (
        ApiVersion("2022-05-01", "2024-04-01", "swagger", legacy=True),
        ApiVersion("2024-04-01-preview", "2024-04-01", "swagger"),
        ApiVersion("2024-04-01", "2024-04-01", "swagger"),
        ApiVersion("2025-06-01", "2025-06-01", "swagger", patch=True),
        ApiVersion("2025-09-01", "2025-09-01", "bicep", patch=True),
        ApiVersion("2025-12-01", "2025-12-01", "bicep", patch=True),
        ApiVersion("2026-05-01", "2026-05-01", "bicep", patch=True),
    )
}
API_VERSIONS = tuple(VERSIONS)


class Schema(Protocol):
    """What the emulator needs from a pinned schema, whichever its format."""

    version: str

    def auth_types(self) -> dict[str, str]: ...
    def categories(self) -> tuple[str, ...]: ...
    def credential_fields(self, auth_type: str) -> tuple[str, ...] | None: ...
    def writable(self, auth_type: str) -> frozenset[str]: ...
    def envelope(self) -> dict[str, bool]: ...
    def check_properties(self, properties: dict[str, Any], *, require_auth_type: bool) -> list[str]: ...


@cache
def schema(api_version: str) -> Schema:
    """The schema that validates an api-version's bodies."""
    version = VERSIONS[api_version]
    if version.reader == "bicep":
        return BicepSchema(version.schema)
    return SwaggerSchema(version.schema)


def name_problem(name: str, max_length: int) -> str:
    """Why a connection name is refused ('' when it is accepted)."""
    if NAME_CHARACTERS.match(name) and MIN_NAME_LENGTH <= len(name) <= max_length:
        return ""
    return (
        f"The connection name '{name}' is invalid: it must be {MIN_NAME_LENGTH} to {max_length} characters "
        "long, start with a letter or a digit, and contain only letters, digits, '_' and '-'."
    )


def has_credentials(api_version: str, auth_type: str) -> bool:
    """Whether the authType's subtype has a `credentials` property (answers then show `credentials: null`)."""
    return schema(api_version).credential_fields(auth_type) is not None


def validate_put(api_version: str, body: Any, url_name: str) -> list[str]:
    """Problems with a PUT body (WorkspaceConnectionPropertiesV2BasicResource); empty when valid."""
    if not isinstance(body, dict):
        return ["(body): must be a JSON object"]
    properties = body.get("properties")
    if not isinstance(properties, dict):
        return ["properties: required object"]
    reader = schema(api_version)
    problems = []
    envelope = reader.envelope()
    for name, value in body.items():
        if name == "properties":
            continue
        if name == "name":
            # The recordings (Azure Service Operator's PUT) show a top-level name equal to the URL's accepted.
            if not isinstance(value, str) or value.lower() != url_name.lower():
                problems.append("name: must equal the connection name in the request URL")
        elif name not in envelope:
            problems.append(f"{name}: unknown property")
        elif envelope[name]:
            problems.append(f"{name}: read-only; must not be sent")
    return problems + reader.check_properties(_tolerate(properties), require_auth_type=True)


def validate_patch(api_version: str, body: Any) -> list[str]:
    """Problems with a PATCH body (WorkspaceConnectionUpdateParameter); properties are all optional and
    null members (merge-patch removals) are allowed."""
    if not isinstance(body, dict):
        return ["(body): must be a JSON object"]
    unknown = sorted(set(body) - {"properties"})
    if unknown:
        return [f"{name}: unknown property" for name in unknown]
    properties = body.get("properties")
    if properties is None:
        return []
    if not isinstance(properties, dict):
        return ["properties: must be an object"]
    # JSON merge-patch (RFC 7396): a null member removes that member, so it is never a value to check.
    # What the patch leaves behind is checked as a whole once merged (validate_put).
    return schema(api_version).check_properties(
        _tolerate(_without_nulls(properties)), require_auth_type=False
    )


def _without_nulls(node: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_nulls(v) if isinstance(v, dict) else v for k, v in node.items() if v is not None}


def _tolerate(properties: dict[str, Any]) -> dict[str, Any]:
    """The tolerated forms made valid for the schema: null metadata values dropped, AccountKey `sas` as `key`."""
    out = _account_key_as_key(properties)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {k: v for k, v in metadata.items() if v is not None}
    return out


def _account_key_as_key(properties: dict[str, Any]) -> dict[str, Any]:
    out = dict(properties)
    creds = out.get("credentials")
    is_account_key = str(out.get("authType", "")).lower() == "accountkey"
    if is_account_key and isinstance(creds, dict) and "sas" in creds and "key" not in creds:
        out["credentials"] = {("key" if k == "sas" else k): v for k, v in creds.items()}
    return out


def stored(api_version: str, properties: dict[str, Any]) -> dict[str, Any]:
    """What the service keeps of valid properties: the members the api-version's authType defines (others,
    which an open swagger subtype lets through, are dropped as the service's model drops them), AccountKey
    `sas` as `key`, null metadata values kept."""
    writable = schema(api_version).writable(str(properties.get("authType", "")))
    return {k: v for k, v in _account_key_as_key(properties).items() if k in writable}
