"""Files (and blocks inside hand-written docs) generated from the package, keyed by path from the repo root.

`hack/gen-crd` writes them; tests/contract checks that the repository holds exactly this text. A block in a
markdown file sits between `<!-- BEGIN GENERATED: <name> -->` and `<!-- END GENERATED: <name> -->`; the
prose around it is hand-written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.metrics import Histogram, MetricWrapperBase

from wsconn import metrics
from wsconn.api import contract, crd
from wsconn.api.authtypes import AUTH_TYPES, CUSTOM_KEYS_FIELD
from wsconn.api.spec import ARM_PROPERTIES
from wsconn.core import reasons
from wsconn.settings import OPTIONS, default_of

CRD_FILE = f"crds/{crd.GROUP}_{crd.PLURAL}.yaml"
CHART_CRD_FILE = f"helm/wsconn-operator/files/crds/{crd.GROUP}_{crd.PLURAL}.yaml"


def options_table() -> str:
    """Every operator setting: flag, environment variable, default, meaning."""
    rows = ["| Flag | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    for o in OPTIONS:
        default = default_of(o.name)
        empty = {"namespaces": "(all)", "arm_audience": "(endpoint)"}.get(o.name, "(none)")
        shown = empty if default in ("", ()) else f"`{default}`"
        choices = f" One of: {', '.join(o.choices)}." if o.choices else ""
        rows.append(f"| `{o.flag}` | `{o.env}` | {shown} | {o.help}{choices} |")
    return "\n".join(rows) + "\n"


def auth_types_table() -> str:
    """Credentials per authType (secret fields must be secretKeyRef)."""
    rows = ["| authType | credentials | required | secret (secretKeyRef only) |", "|---|---|---|---|"]
    for auth in AUTH_TYPES.values():
        if auth.whole_secret:
            rows.append(
                f"| `{auth.name}` | `{CUSTOM_KEYS_FIELD}.secretRef.name` (every key of the Secret) | yes | yes |"
            )
            continue
        if not auth.fields:
            rows.append(f"| `{auth.name}` | none allowed | | |")
            continue
        names = ", ".join(f"`{f.name}`" for f in auth.fields)
        required = ", ".join(f"`{f.name}`" for f in auth.fields if f.required) or "none"
        secret = ", ".join(f"`{f.name}`" for f in auth.fields if f.secret) or "none"
        rows.append(f"| `{auth.name}` | {names} | {required} | {secret} |")
    return "\n".join(rows) + "\n"


def spec_fields_table() -> str:
    """The spec's top-level fields, from the CRD schema."""
    schema = crd.spec_schema()
    required = set(schema["required"])
    rows = ["| Field | Type | Required | Description |", "|---|---|---|---|"]
    for name, prop in schema["properties"].items():
        kind = prop.get("type", "object")
        if "enum" in prop and len(prop["enum"]) <= 12:
            kind += ": " + " \\| ".join(f"`{v}`" for v in prop["enum"])
        elif "enum" in prop:
            kind += f" (one of {len(prop['enum'])} values)"
        rows.append(
            f"| `{name}` | {kind} | {'yes' if name in required else ''} | {prop.get('description', '')} |"
        )
    return "\n".join(rows) + "\n"


def categories_table() -> str:
    """Which categories each api-version accepts."""
    newest = contract.API_VERSIONS[-1]
    older = [v for v in contract.API_VERSIONS if v != newest]
    lines = [f"All {len(contract.categories(newest))} categories of `{newest}`:", ""]
    lines.append(", ".join(f"`{c}`" for c in contract.categories(newest)) + ".")
    for version in older:
        missing = [c for c in contract.categories(newest) if c not in contract.categories(version)]
        if missing:
            lines += ["", f"Not available in `{version}`: " + ", ".join(f"`{c}`" for c in missing) + "."]
    return "\n".join(lines) + "\n"


def metrics_table() -> str:
    """Every metric the operator serves (each Prometheus collector defined in wsconn.metrics)."""
    rows = ["| Metric | Type | Labels | Meaning |", "|---|---|---|---|"]
    collectors: list[Any] = [
        v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase | metrics.ConditionGauge)
    ]
    for collector in sorted(collectors, key=lambda c: c._name):
        kind = collector._type
        name = f"{collector._name}_total" if kind == "counter" else collector._name
        if isinstance(collector, Histogram):
            name = f"{name}_bucket`, `{name}_sum`, `{name}_count"
        labels = ", ".join(f"`{label}`" for label in collector._labelnames) or "none"
        rows.append(f"| `{name}` | {kind} | {labels} | {collector._documentation} |")
    return "\n".join(rows) + "\n"


def api_versions_table() -> str:
    """The supported api-versions: which contract file each follows, its categories, its versioned fields."""
    rows = [
        "| api-version | Contract the operator follows | Categories | Fields only some api-versions have |",
        "|---|---|---|---|",
    ]
    for version in contract.API_VERSIONS:
        versioned = [n for n in ARM_PROPERTIES if contract.versions_with(n) != contract.API_VERSIONS]
        fields = [f"`{n}`" for n in versioned if version in contract.versions_with(n)]
        shown = f"`{version}`" + (" (default)" if version == contract.DEFAULT_API_VERSION else "")
        source = f"{contract.source(version)} subset (`arm/contract/{version}/`)"
        rows.append(f"| {shown} | {source} | {len(contract.categories(version))} | {', '.join(fields)} |")
    return "\n".join(rows) + "\n"


DOC_BLOCKS: dict[str, dict[str, Callable[[], str]]] = {
    "docs/configuration.md": {"options": options_table},
    "docs/reasons.md": {"reasons": reasons.markdown_table},
    "docs/metrics.md": {"metrics": metrics_table},
    "docs/crd.md": {
        "spec-fields": spec_fields_table,
        "api-versions": api_versions_table,
        "auth-types": auth_types_table,
        "categories": categories_table,
    },
}


def fill_blocks(text: str, blocks: dict[str, Callable[[], str]]) -> str:
    """`text` with each named block replaced by its generated content."""
    for name, make in blocks.items():
        pattern = re.compile(
            rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.DOTALL
        )
        match = pattern.search(text)
        if match is None:
            raise ValueError(f"no generated block {name!r}")
        text = text[: match.end(1)] + make() + text[match.start(2) :]
    return text


def generated_files(root: Path) -> dict[str, str]:
    """Every generated file's path and expected text (docs are read from `root` for their prose)."""
    text = crd.render_yaml()
    files = {CRD_FILE: text, CHART_CRD_FILE: text}
    for doc, blocks in DOC_BLOCKS.items():
        files[doc] = fill_blocks((root / doc).read_text(), blocks)
    return files
