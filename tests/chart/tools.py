"""Finding the external tools the chart tests run (helm, lua5.4, the kstatus helper) and rendering the chart.

Nothing is mocked: the tests run the real helm binary, a real Lua interpreter and kstatus itself. A missing
tool skips a test on a developer's machine with the command that provides it, and fails it under CI=true,
where hack/test has installed everything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "wsconn-operator"
RELEASE = "wsconn"
RELEASE_NAMESPACE = "wsconn-system"
# Newer than the chart's kubeVersion floor (1.30). Named because a helm built with `go install` (as
# hack/build-controlplane builds it) assumes Kubernetes v1.20 when it renders without a cluster.
KUBE_VERSION = "1.36.0"

Manifest = dict[str, Any]


def missing(what: str, provided_by: str) -> None:
    """Fail (under CI=true) or skip: `what` is not installed; `provided_by` says how to get it."""
    message = f"{what} not found; {provided_by}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_helm() -> str | None:
    """helm from $WSCONN_CONTROLPLANE_BIN, the default control-plane cache, or PATH; None if absent."""
    bin_dir = os.environ.get("WSCONN_CONTROLPLANE_BIN")
    candidates = [Path(bin_dir) / "helm"] if bin_dir else []
    cache_root = Path(
        os.environ.get("WSCONN_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wsconn"
    )
    candidates += sorted((cache_root / "controlplane").glob("v*/helm"), reverse=True)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("helm")


def helm() -> str:
    """The helm binary, or fail/skip the test."""
    found = find_helm()
    if found is None:
        missing("helm", "run hack/build-controlplane (it builds helm into ~/.cache/wsconn/controlplane)")
    assert found is not None
    return found


def lua() -> str:
    """The Lua 5.4 interpreter, or fail/skip the test."""
    found = shutil.which("lua5.4")
    if found is None:
        missing("lua5.4", "run hack/setup (it installs Debian's lua5.4)")
    assert found is not None
    return found


@cache
def _run_hack(script: str, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [str(ROOT / "hack" / script), *args], capture_output=True, text=True, timeout=3600, check=False
    )
    return proc.returncode, proc.stdout.strip() if proc.returncode == 0 else proc.stderr[-4000:].strip()


def built(script: str, *args: str, needs: str) -> str:
    """What a hack/ build script prints (a path), built once per test process and reused from its cache
    afterwards; fail/skip the test when the build fails. `needs` says what the build needs."""
    code, out = _run_hack(script, *args)
    if code != 0:
        missing(f"a build by hack/{' '.join((script, *args))}", f"it failed (needs {needs}):\n{out}")
    return out


def kstatus() -> str:
    """The kstatus helper binary, built (or reused from its cache) by hack/build-kstatus."""
    return built("build-kstatus", needs="Go >= 1.26")


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run helm; with check=True a failure fails the test with helm's stderr."""
    proc = subprocess.run([helm(), *args], capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}", pytrace=False)
    return proc


def template_args(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = RELEASE_NAMESPACE,
    include_crds: bool = False,
) -> list[str]:
    """Arguments of `helm template` for `values` (given as JSON on --values, which helm reads as YAML)."""
    args = ["template", release, str(CHART), "--namespace", namespace, "--kube-version", KUBE_VERSION]
    if values:
        args += ["--values", "/dev/stdin"]
    if include_crds:
        args.append("--include-crds")
    return args


def render_text(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = RELEASE_NAMESPACE,
    include_crds: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart with `values` merged over values.yaml."""
    argv = [helm(), *template_args(values, release=release, namespace=namespace, include_crds=include_crds)]
    proc = subprocess.run(
        argv,
        input=json.dumps(values) if values else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"helm template failed ({proc.returncode}):\n{proc.stderr}", pytrace=False)
    return proc


@cache
def _render_cached(values_json: str, release: str, namespace: str, include_crds: bool) -> str:
    values = json.loads(values_json)
    return render_text(values, release=release, namespace=namespace, include_crds=include_crds).stdout


def render(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = RELEASE_NAMESPACE,
    include_crds: bool = False,
) -> list[Manifest]:
    """The parsed objects `helm template` renders for `values` (cached per argument set)."""
    text = _render_cached(json.dumps(values or {}, sort_keys=True), release, namespace, include_crds)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(objects: Sequence[Manifest], kind: str) -> list[Manifest]:
    """The objects of one kind."""
    return [o for o in objects if o.get("kind") == kind]


def one(objects: Sequence[Manifest], kind: str) -> Manifest:
    """The single object of `kind`; fails if there is not exactly one."""
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def values_file() -> dict[str, Any]:
    """The chart's values.yaml."""
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded
