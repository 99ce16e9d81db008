"""The pinned ARM contract (swagger subsets in `wsconn/arm/contract/`), read as plain data.

Every enum the CRD, the parser and the body validator use comes from here, so a new api-version or a new
category is a new contract file, not an edit in several places.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Final

API_VERSIONS: Final = ("2024-04-01", "2025-06-01")
DEFAULT_API_VERSION: Final = "2025-06-01"
CONNECTIONS_FILE: Final = "workspaceRP.connections-subset.json"
COMMON_TYPES_FILE: Final = "common-types/resource-management/v3/types.subset.json"

Json = dict[str, Any]


def _read(relative: str) -> Json:
    path = resources.files("wsconn.arm.contract").joinpath(relative)
    data: Json = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def swagger(api_version: str) -> Json:
    """The connection subset of workspaceRP.json for `api_version`."""
    if api_version not in API_VERSIONS:
        raise KeyError(f"unsupported api-version {api_version!r}")
    return _read(f"{api_version}/{CONNECTIONS_FILE}")


@cache
def common_types() -> Json:
    """The common-types v3 subset (Resource, SystemData, ErrorResponse, parameters)."""
    return _read(COMMON_TYPES_FILE)


def enum_values(api_version: str, definition: str) -> tuple[str, ...]:
    """The values of an enum definition, in the contract's order."""
    return tuple(swagger(api_version)["definitions"][definition]["enum"])


def categories(api_version: str) -> tuple[str, ...]:
    """ConnectionCategory values valid for `api_version`."""
    return enum_values(api_version, "ConnectionCategory")


def all_categories() -> tuple[str, ...]:
    """Every category of any supported api-version, newest version's order first."""
    seen: dict[str, None] = {}
    for version in reversed(API_VERSIONS):
        seen.update(dict.fromkeys(categories(version)))
    return tuple(seen)


def auth_types() -> tuple[str, ...]:
    """ConnectionAuthType values; identical in every supported api-version (checked by a test)."""
    return enum_values(DEFAULT_API_VERSION, "ConnectionAuthType")


def name_pattern() -> str:
    """The connection (and workspace) name pattern, from the contract's path parameters."""
    return str(swagger(DEFAULT_API_VERSION)["parameters"]["ConnectionName"]["pattern"])


def workspace_name_pattern() -> str:
    """The workspace name pattern."""
    return str(swagger(DEFAULT_API_VERSION)["parameters"]["WorkspaceNameParameter"]["pattern"])


def resource_group_parameter() -> Json:
    """The resource group path parameter (pattern and length bounds)."""
    parameter: Json = common_types()["parameters"]["ResourceGroupNameParameter"]
    return parameter
