"""The hash lock in requirements/ is current: every dependency the two pyproject files declare is locked, at
the pinned version where one is pinned, so `pip install --require-hashes` can never miss a package that a
pyproject edit added (hack/lock refreshes the files)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:==\s*([^\s;]+))?")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(path: Path, *, extras: bool) -> list[tuple[str, str | None]]:
    project = tomllib.loads(path.read_text())["project"]
    lines = list(project["dependencies"])
    if extras:
        lines += [line for group in project.get("optional-dependencies", {}).values() for line in group]
    out = []
    for line in lines:
        match = _REQUIREMENT.match(line)
        assert match, line
        if _normal(match[1]) not in {"azureml-wsconn-operator", "azureml-wsconn-testbed"}:
            out.append((_normal(match[1]), match[2]))
    return out


def _locked(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", path.read_text(), flags=re.MULTILINE)
    return {_normal(name): version for name, version in pins}


@pytest.mark.parametrize(
    ("pyproject", "lock", "extras"),
    [
        ("pyproject.toml", "requirements/dev.txt", True),
        ("testbed/pyproject.toml", "requirements/dev.txt", True),
        ("pyproject.toml", "requirements/runtime.txt", False),
    ],
)
def test_every_declared_dependency_is_locked(pyproject: str, lock: str, extras: bool) -> None:
    locked = _locked(ROOT / lock)
    missing = [name for name, _ in _declared(ROOT / pyproject, extras=extras) if name not in locked]
    assert not missing, f"not in {lock} (run hack/lock): {missing}"
    moved = [
        f"{name}: declared {pin}, locked {locked[name]}"
        for name, pin in _declared(ROOT / pyproject, extras=extras)
        if pin is not None and locked[name] != pin
    ]
    assert not moved, f"{lock} is stale (run hack/lock): {moved}"


def test_every_locked_package_carries_a_hash() -> None:
    for lock in ("requirements/dev.txt", "requirements/runtime.txt", "requirements/build.txt"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
        unhashed = [e.split("==")[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
        assert not unhashed, f"{lock}: {unhashed}"
