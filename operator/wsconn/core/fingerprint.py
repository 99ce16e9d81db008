"""The fingerprint of what was applied: decides whether a PUT is due without reading Azure.

It covers the ARM ID, the api-version, the body with every Secret-sourced value replaced by a reference
(`bodies.public_body`) and the resourceVersion of each Secret used. It never covers a secret value, nor a
digest of one: a changed Secret shows up through its resourceVersion.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


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
