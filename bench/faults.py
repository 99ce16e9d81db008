"""The faults of issue 12, measured: what the installed operator does when ARM misbehaves, when one workspace
is slow, when its CRD is deleted and when it is stopped mid-work. Figures, not assertions (the e2e tests
assert the behaviour): time to a clear status, peak RSS, how long a healthy subscription waited, how long
status claimed Ready for a version not yet applied, what a shutdown left behind.

    .venv/bin/python -m bench.faults                 # every scenario, about 10 minutes
    .venv/bin/python -m bench.faults deadline crd    # some of them

Run it with another checkout's venv to measure that operator (the scenarios drive `wsconn run` from the
interpreter's own venv). Each scenario gets a namespace and a workspace of its own on one local control plane
and one emulator; the CRD scenario gets a control plane of its own, since it deletes the CRD.
"""

from __future__ import annotations

import argparse
import functools
import re
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client, config

from bench.operator import Operator, proc_stats
from wsconn_testbed.controlplane import LocalControlPlane, crd_established, find_binaries
from wsconn_testbed.emulator.client import EmulatorClient, running_emulator

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION, PLURAL = "azureml.dev", "v1alpha1", "workspaceconnections"
CAP = 150.0  # seconds a scenario waits for something that may never come


@dataclass
class Env:
    """One control plane, the emulator and a work directory."""

    plane: LocalControlPlane
    emulator: EmulatorClient
    work: Path

    @functools.cached_property
    def api(self) -> client.ApiClient:
        configuration = client.Configuration()
        assert self.plane.cluster is not None
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.plane.cluster.kubeconfig), client_configuration=configuration
        )
        return client.ApiClient(configuration)

    def namespace(self) -> str:
        name = f"f-{uuid.uuid4().hex[:8]}"
        client.CoreV1Api(self.api).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
        )
        return name

    def workspace(self) -> dict[str, str]:
        ws = {
            "subscriptionId": str(uuid.uuid4()),
            "resourceGroup": "rg-bench",
            "name": f"ws-{uuid.uuid4().hex[:8]}",
        }
        self.emulator.add_workspace(ws["subscriptionId"], ws["resourceGroup"], ws["name"])
        return ws

    def operator(self, namespace: str, **env: str) -> Operator:
        assert self.plane.cluster is not None
        operator = Operator(
            env={
                **self.emulator.operator_env(),
                "KUBECONFIG": str(self.plane.cluster.kubeconfig),
                "WSCONN_NAMESPACES": namespace,
                "WSCONN_LOG_LEVEL": "debug",
                **env,
            },
            log_path=self.work / f"operator-{uuid.uuid4().hex[:6]}.log",
        ).start()
        operator.wait_healthy()
        return operator

    def apply_crd(self) -> None:
        custom = client.ApiextensionsV1Api(self.api)
        body = yaml.safe_load((REPO / "crds" / f"{GROUP}_{PLURAL}.yaml").read_text())
        custom.create_custom_resource_definition(body)
        name = f"{PLURAL}.{GROUP}"
        wait(lambda: crd_established(custom.read_custom_resource_definition(name).to_dict()), 60)

    def create(self, namespace: str, name: str, workspace: dict[str, str], **spec: Any) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkspaceConnection",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "workspace": workspace,
                "authType": "None",
                "category": "Git",
                "target": f"https://{name}.example/",
                **spec,
            },
        }
        client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body
        )

    def ready(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj: Any = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name
        )
        status = obj.get("status") or {}
        return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)


def wait(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll `predicate` until truthy (returned) or `timeout` (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(interval)
    return None


@contextmanager
def environment(work: Path) -> Iterator[Env]:
    plane = LocalControlPlane(find_binaries(), work / "plane", controller_manager=False)
    plane.start()
    try:
        with running_emulator(work / "emulator") as (_, emulator):
            env = Env(plane, emulator, work)
            env.apply_crd()
            yield env
    finally:
        plane.stop()


def _clear_status(env: Env, namespace: str, name: str, started: float) -> str:
    """Seconds until the resource's Ready condition said anything, and what."""
    found = wait(lambda: env.ready(namespace, name), CAP, 0.2)
    if found is None:
        return f"no status after {CAP:g} s"
    return f"{time.monotonic() - started:.1f} s: Ready={found['status']} {found['reason']}: {found['message'][:110]}"


def answer_fault(env: Env, rule: dict[str, Any], **settings: str) -> dict[str, str]:
    namespace, ws = env.namespace(), env.workspace()
    operator = env.operator(namespace, **settings)
    before = proc_stats(operator.pid)
    env.emulator.faults([{"methods": ["PUT"], "path_contains": ws["name"], **rule}])
    try:
        started = time.monotonic()
        env.create(namespace, "faulty", ws)
        status = _clear_status(env, namespace, "faulty", started)
        time.sleep(3)
        after = proc_stats(operator.pid)
    finally:
        env.emulator.admin("DELETE", "faults")
        operator.stop()
    return {
        "time to a clear status": status,
        "peak RSS": f"{before.peak_rss_mib:.0f} MiB before the fault, {after.peak_rss_mib:.0f} MiB peak, {after.rss_mib:.0f} MiB after",
    }


def deadline(env: Env) -> dict[str, str]:
    """A PUT answer trickled a byte every 3 s, --arm-timeout 10."""
    return answer_fault(env, {"trickle": {"bytes": 1, "every": 3}}, WSCONN_ARM_TIMEOUT="10")


def oversize(env: Env) -> dict[str, str]:
    """A 300 MiB PUT answer."""
    return answer_fault(env, {"oversize_mib": 300})


def not_json(env: Env) -> dict[str, str]:
    """A proxy's HTML page as the 200 answer to a PUT."""
    return answer_fault(env, {"malformed": "html"})


def contradiction(env: Env) -> dict[str, str]:
    """A PUT answered with another target and authType None."""
    return answer_fault(env, {"contradict": True})


def fairness(env: Env) -> dict[str, str]:
    """60 s latency on one workspace's PUTs (20 resources), then one resource in a healthy subscription."""
    namespace, slow, healthy = env.namespace(), env.workspace(), env.workspace()
    operator = env.operator(namespace)
    env.emulator.faults([{"methods": ["PUT"], "path_contains": slow["name"], "latency": 60}])
    try:
        for i in range(20):
            env.create(namespace, f"slow-{i:02d}", slow)
        time.sleep(3)
        started = time.monotonic()
        env.create(namespace, "healthy", healthy)
        found = wait(lambda: (env.ready(namespace, "healthy") or {}).get("status") == "True", CAP, 0.1)
        waited = time.monotonic() - started
    finally:
        env.emulator.admin("DELETE", "faults")
        operator.stop()
    return {
        "time a healthy subscription waited": f"{waited:.1f} s" if found else f"not Ready after {CAP:g} s"
    }


def rotation(env: Env) -> dict[str, str]:
    """10 Ready resources sharing a Secret; PUT latency 25 s; the Secret rotated: how long each still said
    Ready=True without the new version applied."""
    namespace, ws = env.namespace(), env.workspace()
    core, custom = client.CoreV1Api(env.api), client.CustomObjectsApi(env.api)
    core.create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="shared"), string_data={"pat": "one"})
    )
    operator = env.operator(namespace)
    names = [f"rot-{i}" for i in range(10)]
    creds = {"pat": {"secretKeyRef": {"name": "shared", "key": "pat"}}}
    for name in names:
        env.create(namespace, name, ws, authType="PAT", credentials=creds)
    wait(lambda: all((env.ready(namespace, n) or {}).get("status") == "True" for n in names), 60, 0.5)
    env.emulator.faults([{"methods": ["PUT"], "path_contains": ws["name"], "latency": 25}])
    try:
        rotated = core.patch_namespaced_secret("shared", namespace, {"stringData": {"pat": "two"}})
        version = rotated.metadata.resource_version if rotated.metadata else None
        started = time.monotonic()
        lied: dict[str, float] = {}
        while len(lied) < len(names) and time.monotonic() - started < 60:
            for name in names:
                if name in lied:
                    continue
                obj: Any = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
                status = obj.get("status") or {}
                ready = next(c for c in status["conditions"] if c["type"] == "Ready")
                if ready["status"] != "True" or status.get("secretVersions", {}).get("shared") == version:
                    lied[name] = time.monotonic() - started
            time.sleep(0.2)
    finally:
        env.emulator.admin("DELETE", "faults")
        operator.stop()
    spans = sorted(lied.values())
    return {
        "Ready=True with the old version after the rotation": (
            f"median {spans[len(spans) // 2]:.1f} s, longest {spans[-1]:.1f} s ({len(spans)} of {len(names)})"
            if spans
            else "not measured"
        )
    }


def sigterm(env: Env) -> dict[str, str]:
    """120 Ready resources, drift checks every 2 s, 10 s latency on GETs; SIGTERM while checks are in flight."""
    namespace, ws = env.namespace(), env.workspace()
    operator = env.operator(namespace, WSCONN_DRIFT_INTERVAL="2")
    names = [f"timer-{i:03d}" for i in range(120)]
    for name in names:
        env.create(namespace, name, ws)
    wait(lambda: operator.ready_resources() >= len(names), 120, 1)
    env.emulator.faults([{"methods": ["GET"], "path_contains": ws["name"], "latency": 10}])
    try:
        time.sleep(6)
        assert operator.popen is not None
        started = time.monotonic()
        operator.popen.send_signal(signal.SIGTERM)
        code = operator.popen.wait(60)
        took = time.monotonic() - started
    finally:
        env.emulator.admin("DELETE", "faults")
    logs = operator.log_path.read_text(errors="replace")
    return {
        "exit code, shutdown time": f"{code}, {took:.1f} s",
        "timers left running (orphaned)": str(len(re.findall(r"Leaving it orphaned", logs))),
        "requests on the closed client": str(len(re.findall(r"client has been closed", logs))),
        "tracebacks": str(logs.count("Traceback")),
    }


def crd(env: Env) -> dict[str, str]:
    """The CRD deleted under a running operator (3 resources), then an operator started while it terminates."""
    namespace, ws = env.namespace(), env.workspace()
    extensions = client.ApiextensionsV1Api(env.api)
    name = f"{PLURAL}.{GROUP}"

    def gone() -> bool:
        try:
            extensions.read_custom_resource_definition(name)
        except client.ApiException as exc:
            return bool(exc.status == 404)
        return False

    out: dict[str, str] = {}
    operator = env.operator(namespace)
    for i in range(3):
        env.create(namespace, f"crd-{i}", ws)
    wait(lambda: operator.ready_resources() >= 3, 60, 0.5)
    started = time.monotonic()
    extensions.delete_custom_resource_definition(name)
    done = wait(gone, 60, 0.2)
    alive = wait(lambda: operator.popen is not None and operator.popen.poll() is not None, 10, 0.5) is None
    out["deleted while running"] = (
        f"CRD gone after {time.monotonic() - started:.1f} s" if done else "CRD still there after 60 s"
    ) + f"; operator {'still running' if alive else 'exited'}"
    operator.stop()
    env.apply_crd()
    first = env.operator(namespace)
    for i in range(3):
        env.create(namespace, f"crd-{i}", ws)
    wait(lambda: first.ready_resources() >= 3, 60, 0.5)
    first.stop()
    extensions.delete_custom_resource_definition(name)
    time.sleep(2)
    second = env.operator(namespace)
    started = time.monotonic()
    done = wait(gone, 90, 0.2)
    out["started while it terminates"] = (
        f"finalizers released, CRD gone after {time.monotonic() - started:.1f} s"
        if done
        else "CRD still Terminating after 90 s"
    )
    second.stop()
    return out


def writes_metric(env: Env) -> dict[str, str]:
    """10 resources created: wsconn_arm_writes_total against the emulator's count of PUTs answered 200."""
    namespace, ws = env.namespace(), env.workspace()
    operator = env.operator(namespace)
    since = env.emulator.last_seq()
    for i in range(10):
        env.create(namespace, f"w-{i}", ws)
    wait(lambda: operator.ready_resources() >= 10, 60, 0.5)
    puts = [e for e in env.emulator.requests(since) if e["method"] == "PUT" and e["status"] == 200]
    metric = operator.metrics().get("wsconn_arm_writes_total", 0.0)
    operator.stop()
    return {"wsconn_arm_writes_total vs PUTs answered 200": f"{metric:g} vs {len(puts)}"}


SCENARIOS: dict[str, Callable[[Env], dict[str, str]]] = {
    "deadline": deadline,
    "oversize": oversize,
    "not-json": not_json,
    "contradiction": contradiction,
    "fairness": fairness,
    "rotation": rotation,
    "sigterm": sigterm,
    "writes-metric": writes_metric,
    "crd": crd,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"some of: {', '.join(SCENARIOS)} (default: all)")
    args = parser.parse_args(argv)
    chosen = args.scenarios or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="wsconn-faults-") as tmp:
        for name in chosen:
            work = Path(tmp) / name
            work.mkdir()
            with environment(work) as env:
                try:
                    figures = SCENARIOS[name](env)
                except (AssertionError, RuntimeError, httpx.HTTPError, client.ApiException) as exc:
                    figures = {"failed": f"{type(exc).__name__}: {exc}"[:300]}
            for what, figure in figures.items():
                print(f"{name:14} {what}: {figure}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
