"""Fuzzed input against the real API server with the operator running: hypothesis draws WorkspaceConnections,
valid and invalid (wrong types, huge and unicode strings, deep or huge metadata, enum near-misses, dangling
Secret references). Each is refused by the API server with a message naming a spec field, or accepted and
then settles: Ready (and present in Azure) or Stalled with a reason and a message naming what is wrong. The
operator never crashes, hangs or grows without bound. Fixed seed and a bounded count in CI
(WSCONN_FUZZ_EXAMPLES raises the count for longer local runs)."""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client import ApiException

from tests.e2e.amlconn import GROUP, PLURAL, VERSION, Workspace, custom, items
from tests.e2e.kube import wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn.api import contract
from wsconn.api.authtypes import AUTH_TYPES
from wsconn_testbed.emulator.client import EmulatorClient

EXAMPLES = int(os.environ.get("WSCONN_FUZZ_EXAMPLES", "60"))
SECRET = "fuzz-secret"
SECRET_KEYS = ("pat", "sas", "key", "password", "clientSecret", "refreshToken", "secretAccessKey", "token")
# No faults are injected here, so AzureRejected would mean the operator sent a body ARM refuses.
STALL_REASONS = {
    "InvalidSpec", "SecretNotFound", "SecretKeyNotFound", "SecretValueEmpty", "SecretValueInvalid",
    "WorkspaceNotFound",
    "ConnectionConflict",  # two fuzzed resources may name the same connection: one owns it
}  # fmt: skip
RSS_LIMIT_MB = 400

NO_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
NO_SURROGATES_OR_CONTROLS: tuple[Literal["Cs"], Literal["Cc"]] = ("Cs", "Cc")
near_miss = st.sampled_from(["", " ", "pat", "PAT ", "Pat", "ApiKeys", "None\u200b", "AAD\n", "Ǹone", "null"])
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=NO_SURROGATES), max_size=40)
huge = st.integers(300, 20_000).map(lambda n: "x" * n)
scalar: st.SearchStrategy[Any] = st.one_of(
    text, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False)
)


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"d": value}
    return value


@st.composite
def credentials(draw: st.DrawFn, auth_type: str) -> dict[str, Any] | None:
    """Credentials that fit the authType, referencing the fuzz Secret (sometimes a missing or empty key)."""
    auth = AUTH_TYPES[auth_type]
    if not auth.takes_credentials:
        return None
    if auth.whole_secret:
        return {"keys": {"secretRef": {"name": draw(st.sampled_from([SECRET, SECRET, "absent"]))}}}
    out: dict[str, Any] = {}
    for field in auth.fields:
        if not field.required and draw(st.booleans()):
            continue
        if not field.secret and draw(st.booleans()):
            out[field.name] = {
                "value": draw(st.sampled_from(["33333333-4444-5555-6666-777777777777", "plain"]))
            }
            continue
        key = draw(st.sampled_from([*SECRET_KEYS, *SECRET_KEYS, "empty", "missing"]))
        out[field.name] = {
            "secretKeyRef": {"name": draw(st.sampled_from([SECRET] * 5 + ["absent"])), "key": key}
        }
    return out


@st.composite
def valid_specs(draw: st.DrawFn, workspace: Workspace) -> dict[str, Any]:
    """Specs the API server should accept (Azure or the Secrets may still refuse them)."""
    auth_type = draw(st.sampled_from(sorted(AUTH_TYPES)))
    api_version = draw(st.sampled_from(contract.API_VERSIONS))
    spec: dict[str, Any] = {
        "workspace": draw(
            st.sampled_from([workspace.spec()] * 4 + [{**workspace.spec(), "name": "ws-missing"}])
        ),
        "authType": auth_type,
        "azureApiVersion": api_version,
        "category": draw(st.sampled_from(sorted(contract.categories(api_version)))),
        "target": draw(
            st.text(
                alphabet=st.characters(codec="utf-8", exclude_categories=NO_SURROGATES_OR_CONTROLS),
                max_size=60,
            )
        ),
    }
    if draw(st.booleans()):
        spec["metadata"] = draw(
            st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=20), text, max_size=6)
        )
    if draw(st.booleans()):
        spec["expiryTime"] = draw(st.sampled_from(["2030-01-01T00:00:00Z", "2031-06-30T12:00:00.5+02:00"]))
    if draw(st.booleans()):
        spec["connectionName"] = draw(st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,63}", fullmatch=True))
    creds = draw(credentials(auth_type))
    if creds is not None:
        spec["credentials"] = creds
    return spec


MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "authType": st.one_of(near_miss, text, scalar),
    "category": st.one_of(near_miss, scalar),
    "target": st.one_of(huge, st.integers(), st.lists(text, max_size=2)),
    "azureApiVersion": st.one_of(st.sampled_from(["2023-01-01", "2025-6-1", ""]), scalar),
    "expiryTime": st.one_of(st.sampled_from(["2030-13-01T00:00:00Z", "tomorrow", "2030-01-01"]), scalar),
    "metadata": st.one_of(
        st.dictionaries(text, scalar, min_size=1, max_size=8),
        st.integers(1, 400).map(lambda n: {f"k{i}": "v" * (i % 50) for i in range(n)}),
        st.integers(1, 60).map(lambda d: {"deep": _deep(d)}),
        scalar,
    ),
    "isSharedToAll": scalar,
    "connectionName": st.one_of(text, huge, st.just("-dash"), st.just("ab")),
    "deletionPolicy": st.one_of(st.sampled_from(["delete", "Keep", ""]), scalar),
    "credentials": st.one_of(
        scalar,
        st.dictionaries(text, scalar, max_size=3),
        st.just({"pat": {"value": "literal-secret"}}),
        st.just({"pat": {"secretKeyRef": {"name": SECRET}}}),
        st.just({"bogus": {"value": "x"}}),
    ),
    "workspace": st.one_of(
        scalar, st.fixed_dictionaries({"subscriptionId": text, "resourceGroup": huge, "name": text})
    ),
}


@st.composite
def specs(draw: st.DrawFn, workspace: Workspace) -> dict[str, Any]:
    """Half valid specs, half valid specs with one to three fields broken."""
    spec = draw(valid_specs(workspace))
    if draw(st.booleans()):
        for name in draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3, unique=True)):
            spec[name] = draw(MUTATIONS[name])
    return spec


def fixed_seed(examples: int) -> settings:
    """A bounded draw that is the same on every run (CI-stable), without hypothesis' database or shrinking."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _settled(item: dict[str, Any]) -> dict[str, Any] | None:
    status = item.get("status") or {}
    if status.get("observedGeneration") != item["metadata"]["generation"]:
        return None
    conds = {c["type"]: c for c in status.get("conditions", [])}
    for kind in ("Ready", "Stalled"):
        if conds.get(kind, {}).get("status") == "True":
            return dict(conds[kind])
    return None


def test_fuzzed_workspace_connections(
    start_operator: Callable[..., OperatorProcess],
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    # Missing keys are Stalled at once (no missing-Secret grace): the fuzz judges settled outcomes, and the
    # grace has its own tests (test_grace.py).
    operator = start_operator(WSCONN_MISSING_SECRET_GRACE="0")
    core = client.CoreV1Api(kube)
    data = {k: f"{k}-value" for k in SECRET_KEYS} | {"empty": ""}
    core.create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=SECRET), string_data=data)
    )
    api = custom(kube)
    accepted: list[str] = []
    refused: list[str] = []
    refusals: list[tuple[int, str]] = []

    @fixed_seed(EXAMPLES)
    @given(specs(workspace))
    def run(spec: dict[str, Any]) -> None:
        name = f"fuzz-{len(accepted) + len(refused):04d}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkspaceConnection",
            "metadata": {"name": name},
            "spec": spec,
        }
        try:
            api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        except ApiException as exc:
            refusals.append((exc.status, exc.body or ""))
            refused.append(name)
        else:
            accepted.append(name)

    run()
    assert accepted, "some fuzzed objects were valid enough to be accepted"
    assert refused, "some were refused by the API server"
    for status, message in refusals:
        assert status in (400, 422), (status, message)
        assert "spec" in message, message

    def settled() -> list[dict[str, Any]] | None:
        found = items(kube, namespace)
        return found if len(found) == len(accepted) and all(_settled(i) for i in found) else None

    settled_items: list[dict[str, Any]] = wait_for(
        settled,
        timeout=120,
        interval=1,
        what="every accepted object settled",
        describe=lambda: str([i["metadata"]["name"] for i in items(kube, namespace) if not _settled(i)]),
    )
    in_azure = {c["name"].lower() for c in emulator.connections(prefix=workspace.id)}
    outcomes: dict[str, int] = {}
    for item in settled_items:
        cond = _settled(item)
        assert cond is not None
        outcomes[cond["reason"]] = outcomes.get(cond["reason"], 0) + 1
        if cond["type"] == "Ready":
            name = (item["spec"].get("connectionName") or item["metadata"]["name"]).lower()
            assert name in in_azure, name
        else:
            assert cond["reason"] in STALL_REASONS, cond
            assert cond["message"].strip(), cond
            if cond["reason"] == "InvalidSpec":
                assert "spec." in cond["message"] or "connectionName" in cond["message"], cond["message"]

    assert operator.popen is not None
    assert operator.popen.poll() is None, "the operator did not crash"
    rss = _rss_mb(operator.popen.pid)
    assert rss < RSS_LIMIT_MB, f"operator RSS {rss:.0f} MB"
    print(
        f"fuzz: {EXAMPLES} drawn, {len(refused)} refused by the API server, {len(accepted)} accepted: "
        f"{dict(sorted(outcomes.items()))}; operator RSS {rss:.0f} MB"
    )
