"""deploy/argocd/health.lua run by a real Lua interpreter (Debian's lua5.4) over the status fixtures.

Argo CD runs a health check as a chunk with the live object in the global `obj` and reads `status` and
`message` from the table it returns. The harness here does the same: the object becomes a Lua table
literal (lua5.4 has no JSON library) and the chunk is loaded with an environment holding only `obj` and
Lua's base functions, so a check that reached for io, os or a library Argo CD's VM lacks would fail here.
Argo CD's VM (gopher-lua) speaks Lua 5.1; the check uses nothing newer.
"""

from __future__ import annotations

import copy
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.chart.status_fixtures import EXPECTED, fixture_names, load
from tests.chart.tools import CHART, ROOT, lua

HEALTH_LUA = ROOT / "deploy" / "argocd" / "health.lua"
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

HARNESS = """
local env = {{obj = {obj}, ipairs = ipairs, pairs = pairs, next = next, tostring = tostring, type = type}}
local chunk = assert(loadfile({path}, "t", env))
local hs = chunk()
assert(type(hs) == "table", "the check must return a table")
for key in pairs(hs) do
  assert(key == "status" or key == "message", "unexpected field " .. tostring(key))
end
assert(type(hs.status) == "string" and type(hs.message) == "string", "status and message must be strings")
io.write(hs.status, "\\n", hs.message)
"""


def lua_string(text: str) -> str:
    """A Lua string literal for `text`: printable ASCII as is, everything else as decimal byte escapes."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def to_lua(value: Any) -> str:
    """A Lua table constructor for a JSON-like value, as Argo CD hands objects to health checks."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_string(k)}] = {to_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not JSON-like: {value!r}")


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) that health.lua returns for `obj`."""
    script = HARNESS.format(obj=to_lua(obj), path=lua_string(str(HEALTH_LUA)))
    proc = subprocess.run([lua(), "-"], input=script, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    status, _, message = proc.stdout.partition("\n")
    assert status in ARGO_STATUSES
    return status, message


def test_every_fixture_has_an_expectation() -> None:
    assert fixture_names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_health(name: str) -> None:
    status, message = health(load(name))
    assert status == EXPECTED[name][0]
    assert message


def test_messages_carry_the_reason() -> None:
    stalled = load("stalled-permanent.json")
    message = next(c["message"] for c in stalled["status"]["conditions"] if c["type"] == "Stalled")
    assert health(stalled) == ("Degraded", f"SecretNotFound: {message}")
    assert health(load("reconciling-transient.json"))[1].startswith("AzureUnavailable: ")
    assert "503" in health(load("reconciling-transient.json"))[1]
    stale = load("ready-old-generation.json")
    generation = stale["metadata"]["generation"]
    assert health(stale)[1] == f"Generation {generation} not observed yet (observed: {generation - 1})"
    assert health(load("ready.json"))[1].startswith("Succeeded: ")


def _with_conditions(**statuses: str) -> dict[str, Any]:
    obj = copy.deepcopy(load("ready.json"))
    for condition in obj["status"]["conditions"]:
        condition["status"] = statuses.get(condition["type"], "False")
    return obj


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({"Ready": "True"}, "Healthy"),
        ({"Ready": "True", "Reconciling": "True"}, "Progressing"),
        ({"Ready": "True", "Stalled": "True"}, "Degraded"),
        ({"Reconciling": "True", "Stalled": "True"}, "Degraded"),
        ({}, "Progressing"),
        ({"Ready": "Unknown"}, "Progressing"),
    ],
)
def test_condition_combinations(statuses: dict[str, str], expected: str) -> None:
    assert health(_with_conditions(**statuses))[0] == expected


def test_edge_shapes() -> None:
    ready = load("ready.json")
    empty_conditions = copy.deepcopy(ready)
    empty_conditions["status"]["conditions"] = []
    assert health(empty_conditions)[0] == "Progressing"
    status_without_conditions = copy.deepcopy(ready)
    status_without_conditions["status"] = {"observedGeneration": 1}
    assert health(status_without_conditions)[0] == "Progressing"
    no_generation = copy.deepcopy(ready)
    del no_generation["metadata"]["generation"]
    assert health(no_generation)[0] == "Healthy"
    only_ready = copy.deepcopy(ready)
    only_ready["status"]["conditions"] = [c for c in ready["status"]["conditions"] if c["type"] == "Ready"]
    assert health(only_ready)[0] == "Healthy"
    unicode_message = copy.deepcopy(load("stalled-permanent.json"))
    for condition in unicode_message["status"]["conditions"]:
        condition["message"] = 'Zielname "ü" ist ungültig \\ 名前'
    assert health(unicode_message) == ("Degraded", 'SecretNotFound: Zielname "ü" ist ungültig \\ 名前')


def test_lua_literal_round_trips_awkward_strings() -> None:
    """The harness itself: a string with quotes, backslashes, newlines and non-ASCII survives to Lua."""
    text = 'a "b" \\c\nd\té — 名'
    script = f"io.write({lua_string(text)})"
    proc = subprocess.run([lua(), "-"], input=script, capture_output=True, text=True, timeout=30, check=True)
    assert proc.stdout == text


def test_docs_and_chart_carry_this_check() -> None:
    """The chart's copy and the argocd-cm snippet in docs/install.md, parsed as YAML, are this check."""
    check = HEALTH_LUA.read_text()
    assert (CHART / "files" / "argocd-health.lua").read_text() == check
    doc = (ROOT / "docs" / "install.md").read_text()
    block = re.search(
        r"```yaml\n(apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n.*?)```", doc, re.DOTALL
    )
    assert block, "docs/install.md lost its argocd-cm snippet"
    snippet = yaml.safe_load(block.group(1))
    assert snippet["data"] == {"resource.customizations.health.azureml.dev_WorkspaceConnection": check}
