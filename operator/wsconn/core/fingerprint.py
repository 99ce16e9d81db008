"""The fingerprint of what was applied: decides whether a PUT is due without reading Azure.

It covers what a PUT sends: the ARM ID, the api-version, the body with every Secret-sourced value replaced by
a reference (`bodies.public_body`) and the resourceVersion of each Secret used. It never covers a secret
value, nor a digest of one: a changed Secret shows up through its resourceVersion. The formula is pinned
(a test writes its canonical form out by hand): a new formula would re-PUT every resource on upgrade.

The api-version is the protocol, not the connection's state: the same body applied with another
api-version leaves the same connection in Azure. So a fingerprint recorded under another api-version for the
same body and Secret versions counts as applied (`carried_over`): changing spec.azureApiVersion, or
upgrading the operator and with it the default api-version, writes nothing when the body does not change,
and status moves to the new api-version. A rejected fingerprint keeps its api-version, so a spec Azure
refused on one api-version is tried again on another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from wsconn.api import contract


def fingerprint(
    *, resource_id: str, api_version: str, public_body: Mapping[str, Any], secret_versions: Mapping[str, str]
) -> str:
    """A stable `sha256:<hex>` of the inputs."""
    canonical = json.dumps(
        {
            "id": resource_id.lower(),
            "apiVersion": api_version,
            "body": public_body,
            "secretVersions": dict(sorted(secret_versions.items())),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def carried_over(
    applied: str | None,
    *,
    desired: str,
    resource_id: str,
    public_body: Mapping[str, Any],
    secret_versions: Mapping[str, str],
    applied_api_version: str | None,
) -> bool:
    """Whether `applied` (status) is not `desired` but fingerprints the same body and Secret versions under
    another api-version: the status's own (what the last apply used) or any supported one."""
    if applied is None or applied == desired:
        return False
    candidates = dict.fromkeys((applied_api_version or "", *contract.API_VERSIONS))
    return any(
        applied
        == fingerprint(
            resource_id=resource_id,
            api_version=version,
            public_body=public_body,
            secret_versions=secret_versions,
        )
        for version in candidates
        if version
    )
