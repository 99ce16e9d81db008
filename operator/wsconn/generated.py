"""Files in the repository that are generated from the package, keyed by their path from the repo root."""

from __future__ import annotations

from wsconn.api import crd

CRD_FILE = f"crds/{crd.GROUP}_{crd.PLURAL}.yaml"
CHART_CRD_FILE = f"helm/wsconn-operator/crds/{crd.GROUP}_{crd.PLURAL}.yaml"


def generated_files() -> dict[str, str]:
    """Every generated file's path and expected text."""
    text = crd.render_yaml()
    return {CRD_FILE: text, CHART_CRD_FILE: text}
