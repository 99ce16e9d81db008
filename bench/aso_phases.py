"""`bench/run --with-aso`: Azure Service Operator v2 (ASO) v2.13.0 against the same control plane and emulator,
after this operator's phases for the same N, with the same phases and the same way of counting.

Setup: a workspace in a subscription of its own (fresh ARM buckets, as this operator's create phase has), an
app registration of its own in the emulator (its ARM requests are counted by its client id), a ServiceAccount
of its own (its Kubernetes requests are counted by user in the audit log), three namespaces of its own with
the same N items (Secrets first), the stand-in CRD (bench/aso_workload.py) and the discovery proxy
(bench/aso_proxy.py). Every phase runs a fresh ASO process, as every phase of ours runs a fresh operator:

1. create   ASO running and idle; N objects submitted; time until each has Ready=True for its generation.
2. restart  SIGTERM, a new process: time until it has re-synced every resource (ASO PUTs and then GETs each
            one again after a start), with the ARM and Kubernetes requests of that window.
3. rotation on the restarted process: the same paced Secret changes as ours; latency to ASO's next PUT.
4. steady   a process with AZURE_SYNC_PERIOD scaled by `aso_scale` (ARM's refill rates likewise); ASO adds
            +-25% jitter to each requeue, so a window of fixed length counts a biased share of syncs: the
            figure is the mean interval between two PUTs (and two GETs) of the same resource, measured until
            every resource has been synced after its start-up sync; Kubernetes writes and CPU per resource-hour
            are their cost per sync in that window times that rate.
"""

from __future__ import annotations

import itertools
import time
import traceback
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.aso import BINARY
from bench.aso_process import AsoProcess
from bench.aso_proxy import DiscoveryProxy, write_certificates
from bench.aso_workload import ASO_CRD_NAME, aso_connection, aso_path, aso_ready, stand_in_crd
from bench.kube import ASO_NAMESPACE, ASO_SA, ASO_USER, ReadyWatcher, service_account_token
from bench.phases import (
    ARM_BUCKETS,
    SETTLE_SECONDS,
    Context,
    Mark,
    _epoch,
    _limits,
    fire_rotations,
    latency_figures,
    readiness_figures,
    rotation_latencies,
    summarize_arm,
)
from bench.workload import LABEL, Item, Workspace, build, create_all, load_examples, secret_objects
from wsconn_testbed.controlplane import write_kubeconfig
from wsconn_testbed.pki import write_trust_bundle

ASO_NAMESPACES = ["aso-a", "aso-b", "aso-c"]
ASO_AUTH_TYPE = "ApiKey"
REAL_SYNC_PERIOD = 3600.0  # ASO's default AZURE_SYNC_PERIOD (1 h)
# One ASO reconcile of a Ready resource is a PUT and then a GET, about 0.45 s at 100-300 ms per ARM call; one
# sync per second per worker leaves it half idle, so the scaled steady phase measures the policy, not a
# backlog (the manual run found one worker unable to keep a 60 s period at N = 300).
SYNCS_PER_SECOND_PER_WORKER = 1.0
SCALES = (100, 50, 25, 20, 10, 5, 2, 1)
SYNC_JITTER = 0.25  # ASO's interval calculator: each requeue is the sync period +-25%


def aso_scale(size: int, sync_period: float, workers: int) -> int:
    """The largest round time scale at which ASO's syncs of `size` resources stay within its workers' pace."""
    for scale in SCALES:
        if size * scale / sync_period <= workers * SYNCS_PER_SECOND_PER_WORKER:
            return scale
    return 1


def arm_floor(size: int, latency: float) -> float:
    """ARM's own floor for `size` writes in one subscription (ASO's has only its own): one round of
    `latency` while the 200-token write bucket covers them, plus the refill beyond it."""
    capacity, rate = ARM_BUCKETS["writes"]
    return latency + max(0.0, (size - capacity) / rate)


def sync_intervals(entries: list[dict[str, Any]], method: str) -> list[float]:
    """Seconds between consecutive successful requests of `method` to the same ARM path, over all paths."""
    times: dict[str, list[float]] = defaultdict(list)
    for e in entries:
        if e["method"] == method and e["status"] == 200:
            times[e["path"].lower()].append(_epoch(e["time"]))
    out: list[float] = []
    for seen in times.values():
        seen.sort()
        out += [b - a for a, b in itertools.pairwise(seen)]
    return out


@dataclass
class AsoRun:
    """What the ASO phases share: the run's context, ASO's identity, environment, items and processes."""

    ctx: Context
    workspace: Workspace
    client_id: str
    env: dict[str, str]
    items: list[Item]
    proxy: DiscoveryProxy
    processes: list[AsoProcess] = field(default_factory=list)
    stopped: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self, label: str, **extra: str) -> AsoProcess:
        """A fresh ASO process with the common environment plus `extra`, ready."""
        process = AsoProcess(
            BINARY, env={**self.env, **extra}, log_path=self.ctx.work_dir / f"aso-{label}.log"
        ).start()
        self.processes.append(process)
        process.wait_healthy()
        return process

    def stop(self, process: AsoProcess, label: str) -> None:
        """SIGTERM a process and keep its final CPU and peak memory."""
        code = process.stop()
        stats = process.last_stats
        self.stopped[label] = {
            "exit_code": code,
            "cpu_seconds": round(stats.cpu_seconds, 2) if stats else None,
            "peak_rss_mib": round(stats.peak_rss_mib, 1) if stats else None,
            "threads": stats.threads if stats else None,
        }

    def mark(self, process: AsoProcess | None = None) -> Mark:
        """Positions in both logs now; with a process, its CPU seconds so far."""
        return self.ctx.mark() if process is None else _with_cpu(self.ctx.mark(), process)

    def entries(self, start: Mark, end: Mark | None = None) -> list[dict[str, Any]]:
        """ASO's ARM requests on its workspace between two marks (to now without an end)."""
        prefix = self.workspace.id.lower()
        return [
            e
            for e in self.ctx.emulator.requests(since=start.seq)
            if (end is None or e["seq"] <= end.seq)
            and e["client_id"] == self.client_id
            and e["path"].lower().startswith(prefix)
        ]

    def kube(self, start: Mark, end: Mark) -> dict[str, Any]:
        """ASO's Kubernetes requests between two marks, from the audit log."""
        return self.ctx.bench.audit.summary(start.audit, end.audit, user=ASO_USER)

    def wait_synced(self, start: Mark, timeout: float, times: int = 1) -> float | None:
        """Wait until every resource has been PUT and then read `times` times since `start`; returns the
        wall-clock time of the last GET that completed it, or None after `timeout`."""
        deadline = time.monotonic() + timeout
        n = len(self.items)
        while time.monotonic() < deadline:
            gets: dict[str, list[float]] = defaultdict(list)
            for e in self.entries(start):
                if e["method"] == "GET" and e["status"] == 200:
                    gets[e["path"].lower()].append(_epoch(e["time"]))
            done = [sorted(v)[times - 1] for v in gets.values() if len(v) >= times]
            if len(done) >= n:
                return max(done)
            time.sleep(0.5)
        return None


def _with_cpu(mark: Mark, process: AsoProcess) -> Mark:
    mark.cpu = process.stats().cpu_seconds
    return mark


def run_aso(ctx: Context, repo: Path, *, workers: int, sync_period: float) -> dict[str, Any]:
    """Set ASO up beside the finished run of this operator and run its phases; returns its results. A failure
    is recorded in them (`error`, and the check `aso_completed`) with the phases done so far, so this
    operator's figures for the same N are kept."""
    result: dict[str, Any] = {"version": "v2.13.0", "workers": workers, "sync_period_seconds": sync_period}
    try:
        _set_up_and_run(ctx, repo, result)
    except Exception as exc:  # ASO failing must not take our figures for this N with it
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"
        ctx.say(f"N={ctx.plan.size}: ASO failed: {result['error']}")
    return result


def _set_up_and_run(ctx: Context, repo: Path, result: dict[str, Any]) -> None:
    plan = ctx.plan
    workers, sync_period = int(result["workers"]), float(result["sync_period_seconds"])
    if not BINARY.exists():
        raise RuntimeError(f"ASO is not built: {BINARY} (python -m bench.aso build; about 25 minutes)")
    emulator, kube = ctx.emulator, ctx.bench.kube
    workspace = Workspace(str(uuid.uuid4()), "rg-aso", "ws-aso")
    emulator.add_workspace(workspace.subscription, workspace.resource_group, workspace.name)
    emulator.admin("PUT", "throttle", _limits(1))  # ARM's real buckets again after our steady phase
    answer = emulator.admin("POST", "clients", {"client_id": str(uuid.uuid4())})
    client_id, secret = str(answer["client_id"]), str(answer["secret"])

    kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", stand_in_crd())
    kube.wait_crd_established(ASO_CRD_NAME)
    for namespace in [ASO_NAMESPACE, *ASO_NAMESPACES]:
        kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    kube.request(
        "POST", f"/api/v1/namespaces/{ASO_NAMESPACE}/serviceaccounts", {"metadata": {"name": ASO_SA}}
    )
    # cluster-admin, not ASO's chart ClusterRole (which covers every ASO CRD): the audit log counts by user,
    # so the role changes no figure, only what ASO would be allowed to do.
    kube.request(
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": "wsconn-bench-aso"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": ASO_SA, "namespace": ASO_NAMESPACE}],
        },
    )
    aso_dir = ctx.work_dir / "aso"
    aso_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = write_kubeconfig(
        aso_dir / "aso.kubeconfig",
        server=ctx.bench.cluster.server,
        ca_file=ctx.bench.cluster.ca_file or Path(),
        token=service_account_token(kube, ASO_NAMESPACE, ASO_SA),
        user=ASO_SA,
    )
    apikey = [e for e in load_examples(repo) if e.connection["spec"]["authType"] == ASO_AUTH_TYPE]
    items = build(apikey, plan.size, ASO_NAMESPACES, [workspace], ctx.run_id)
    create_all(kube, secret_objects(items))

    certificates = write_certificates(aso_dir / "proxy")
    info = emulator.info
    proxy = DiscoveryProxy(certificates, info["authority_host"], info["ca_file"]).start()
    bundle = write_trust_bundle(aso_dir / "trust-bundle.pem", Path(info["ca_file"]), certificates.ca_cert)
    env = {
        "AZURE_OPERATOR_MODE": "watchers",
        "AZURE_SUBSCRIPTION_ID": workspace.subscription,
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_CLIENT_ID": client_id,
        "AZURE_CLIENT_SECRET": secret,
        "AZURE_RESOURCE_MANAGER_ENDPOINT": info["arm_endpoint"],
        "AZURE_RESOURCE_MANAGER_AUDIENCE": info["audience"],
        "AZURE_AUTHORITY_HOST": info["authority_host"],
        "AZURE_TARGET_NAMESPACES": ",".join(ASO_NAMESPACES),
        "POD_NAMESPACE": ASO_NAMESPACE,
        "MAX_CONCURRENT_RECONCILES": str(workers),
        "SSL_CERT_FILE": str(bundle),
        "HTTPS_PROXY": proxy.url,
        "KUBECONFIG": str(kubeconfig),
    }
    run = AsoRun(ctx, workspace, client_id, env, items, proxy)
    result.update(auth_types={ASO_AUTH_TYPE: len(items)}, namespaces=ASO_NAMESPACES)
    try:
        first = run.start("1-create")
        result["create"] = aso_create(run, first)
        if "restart" in plan.phases:
            run.stop(first, "1-create")
            second, result["restart"] = aso_restart(run)
            if "rotation" in plan.phases:
                result["rotation"] = aso_rotation(run, second)
            run.stop(second, "2-restart+rotation")
        else:
            run.stop(first, "1-create")
        if "steady" in plan.phases:
            result["steady"] = aso_steady(run, sync_period, workers)
    finally:
        for process in run.processes:
            process.stop()
        proxy.stop()
        result["processes"] = run.stopped
        result["discovery_requests"] = proxy.forwarded
        result["proxy_connects"] = proxy.connects


def aso_create(run: AsoRun, process: AsoProcess) -> dict[str, Any]:
    """Submit N objects with ASO running; time until all are Ready; its ARM and Kubernetes requests."""
    ctx, n = run.ctx, len(run.items)
    ctx.say(f"N={n}: ASO create: submitting {n} WorkspacesConnections")
    watcher = ReadyWatcher(ctx.bench.kube, f"{LABEL}={ctx.run_id}", collection=aso_path(), ready=aso_ready)
    watcher.start()
    start = run.mark(process)
    create_all(
        ctx.bench.kube, [(aso_path(i.namespace), aso_connection(i, run.workspace.id)) for i in run.items]
    )
    submitted = time.time()
    all_ready = watcher.wait_count(n, 300 + 2.0 * n)
    watcher.stop()
    ready_times = sorted(watcher.ready_at.values())
    last_ready = ready_times[-1] if ready_times else time.time()
    time.sleep(SETTLE_SECONDS)
    end = run.mark(process)
    arm = summarize_arm(run.entries(start, end))
    elapsed = last_ready - start.at
    floor = arm_floor(n, ctx.plan.latency[1])
    puts = [_epoch(e["time"]) for e in run.entries(start, end) if e["method"] == "PUT"]
    stored = len(ctx.emulator.connections(prefix=run.workspace.id))
    ctx.say(
        f"N={n}: ASO create: {len(ready_times)}/{n} Ready in {elapsed:.1f}s, "
        f"{arm['writes_applied']} PUTs, {arm['reads']} reads"
    )
    return {
        **readiness_figures(
            ready_times,
            all_ready=all_ready,
            start=start.at,
            submitted=submitted,
            last_put=max(puts, default=start.at),
            floor=floor,
        ),
        "arm": arm,
        "connections_in_arm": stored,
        "kubernetes": run.kube(start, end),
        "cpu_seconds": round(end.cpu - start.cpu, 2),
    }


def aso_restart(run: AsoRun) -> tuple[AsoProcess, dict[str, Any]]:
    """A new ASO process: time until it has re-synced every resource, and what that cost."""
    ctx, n = run.ctx, len(run.items)
    ctx.say(f"N={n}: ASO restart: starting a new process")
    start = run.mark()
    process = run.start("2-restart")
    synced = run.wait_synced(start, timeout=300 + 2.0 * n)
    time.sleep(SETTLE_SECONDS)
    end = run.mark(process)
    arm = summarize_arm(run.entries(start, end))
    ctx.say(f"N={n}: ASO restart: {arm['writes']} ARM writes, {arm['reads']} reads until re-synced")
    return process, {
        "resynced_all": synced is not None,
        "time_to_resynced_seconds": round(synced - process.started_at, 2) if synced else None,
        "arm": arm,
        "kubernetes": run.kube(start, end),
        "cpu_seconds": round(end.cpu, 2),  # the whole new process so far: start-up included
    }


def aso_rotation(run: AsoRun, process: AsoProcess) -> dict[str, Any]:
    """The same paced Secret changes as ours, on ASO's items; latency to ASO's next PUT of the connection."""
    ctx, plan = run.ctx, run.ctx.plan
    start = run.mark(process)
    fired = fire_rotations(ctx, run.items, "ASO rotation")
    latencies = rotation_latencies(ctx, start, fired, timeout=60.0, client_id=run.client_id)
    time.sleep(SETTLE_SECONDS)
    end = run.mark(process)
    found = [v for v in latencies if v is not None]
    out: dict[str, Any] = {
        "rotations": len(fired),
        "observed": len(found),
        "pace_seconds": plan.rotation_pace,
        "arm": summarize_arm(run.entries(start, end)),
        "kubernetes": run.kube(start, end),
        "cpu_seconds": round(end.cpu - start.cpu, 2),
    }
    if found:
        out.update(latency_figures(found))
    ctx.say(
        f"N={plan.size}: ASO rotation: p50 {out.get('p50_seconds')}s ({len(found)}/{len(fired)} observed)"
    )
    return out


def aso_steady(run: AsoRun, sync_period: float, workers: int) -> dict[str, Any]:
    """ASO at rest with its sync period scaled: syncs per resource-hour from the intervals between them."""
    ctx, n = run.ctx, len(run.items)
    scale = aso_scale(n, sync_period, workers)
    period, hour = sync_period / scale, 3600.0 / scale
    ctx.emulator.admin("PUT", "throttle", _limits(scale))
    ctx.say(
        f"N={n}: ASO steady: sync period {period:g}s standing for {sync_period:g}s (x{scale}), measured until "
        "every resource has synced after its start-up sync"
    )
    start = run.mark()
    process = run.start("3-steady", AZURE_SYNC_PERIOD=f"{period:g}s")
    burst = run.wait_synced(start, timeout=300 + 2.0 * n)
    if burst is None:
        raise RuntimeError("ASO's steady-state process did not sync every resource after its start")
    after_burst = run.mark(process)
    settled = run.wait_synced(start, timeout=(1 + SYNC_JITTER) * period + 120 + 2.0 * n, times=2)
    end = run.mark(process)
    entries = run.entries(start, end)
    put_intervals, get_intervals = sync_intervals(entries, "PUT"), sync_intervals(entries, "GET")
    window = summarize_arm(run.entries(after_burst, end))
    kube = run.kube(after_burst, end)
    syncs = window["writes"]  # every sync after the start-up burst is one PUT
    writes_per_hour = hour / (sum(put_intervals) / len(put_intervals)) if put_intervals else None
    reads_per_hour = hour / (sum(get_intervals) / len(get_intervals)) if get_intervals else None
    per_sync = {
        "kube_requests": kube["requests"] / syncs if syncs else None,
        "kube_writes": kube["writes"] / syncs if syncs else None,
        "cpu_seconds": (end.cpu - after_burst.cpu) / syncs if syncs else None,
    }

    def hourly(value: float | None) -> float | None:
        return round(value * writes_per_hour, 3) if value is not None and writes_per_hour else None

    run.stop(process, "3-steady")
    out = {
        "scale": scale,
        "sync_period_seconds": period,
        "stands_for_sync_period_seconds": sync_period,
        "scaled_hour_seconds": hour,
        "all_synced_twice": settled is not None,
        "window_seconds": round(end.at - after_burst.at, 2),
        "arm": window,
        "intervals": len(put_intervals),
        "mean_sync_interval_seconds": round(sum(put_intervals) / len(put_intervals), 2)
        if put_intervals
        else None,
        "arm_writes_per_resource_hour": round(writes_per_hour, 3) if writes_per_hour else None,
        "arm_reads_per_resource_hour": round(reads_per_hour, 3) if reads_per_hour else None,
        "kubernetes": kube,
        "kube_requests_per_resource_hour": hourly(per_sync["kube_requests"]),
        "kube_writes_per_resource_hour": hourly(per_sync["kube_writes"]),
        "cpu_seconds_per_scaled_hour": hourly(
            per_sync["cpu_seconds"] * n if per_sync["cpu_seconds"] else None
        ),
        "arm_buckets": {k: [c, r * scale] for k, (c, r) in ARM_BUCKETS.items()},
    }
    ctx.say(
        f"N={n}: ASO steady: {out['arm_writes_per_resource_hour']} ARM writes and "
        f"{out['arm_reads_per_resource_hour']} reads per resource per hour"
    )
    return out


def aso_checks(aso: dict[str, Any], size: int) -> dict[str, bool]:
    """What must hold for ASO's figures to mean anything (not what ASO should achieve)."""
    checks = {
        "aso_completed": "error" not in aso,
        "aso_all_ready": bool(aso.get("create", {}).get("all_ready")),
        "aso_connections_in_arm_equal_n": aso.get("create", {}).get("connections_in_arm") == size,
        "aso_processes_exit_zero": all(p.get("exit_code") == 0 for p in aso.get("processes", {}).values()),
    }
    if "restart" in aso:
        checks["aso_restart_resynced_all"] = bool(aso["restart"].get("resynced_all"))
    if "rotation" in aso:
        checks["aso_rotations_all_observed"] = aso["rotation"].get("observed") == aso["rotation"].get(
            "rotations"
        )
    if "steady" in aso:
        checks["aso_steady_all_synced_twice"] = bool(aso["steady"].get("all_synced_twice"))
    return checks
