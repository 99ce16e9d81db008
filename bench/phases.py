"""One benchmark run for one size N: a fresh control plane and emulator, then the phases in order.

1. create   operator #1 (default 600 s drift interval) running; N WorkspaceConnections submitted; time until
            every one is Ready (seen through a watch), ARM writes and reads, Kubernetes API requests.
2. restart  SIGTERM #1, start #2 with the same settings: time until it has re-examined every resource
            (its wsconn_resources{ready="True"} gauge reaches N), ARM writes (must be 0) and reads.
3. rotation on #2: one Secret value changed at a time, paced; latency from the Secret patch to the PUT in
            the emulator's request log (the log records a request when ARM has answered it).
4. steady   #2 stopped; #3 with a drift interval scaled down by `scale` (600 s -> 600/scale s) and ARM's
            refill rates scaled up by the same factor on both sides, so one "scaled hour" (3600/scale s)
            carries exactly the requests a real hour would; after a warm-up, one scaled hour is counted.

`--with-aso` then runs Azure Service Operator through the same phases (bench/aso_phases.py).

With `identities` K, the connections live in team namespaces, each in one subscription, and the first K have
an Azure identity of their own (an app registration in the emulator allowed on its workspace only, as the
namespace's `wsconn-azure-credentials` Secret); with `arm_rate_scale` F, ARM's refill rates (and the operator's
client-side ones) are divided by F in the real-time phases, so two shared cores can keep ARM's pace at
N = 10,000 (bench/README.md, "A slower ARM for large N").

Every count comes from outside the operator: ARM from the emulator's request log (filtered by the client ids
of the operator's principals and the benchmark's workspaces), Kubernetes from the API server's audit log (the operator's ServiceAccount
only), CPU and memory from /proc.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import statistics
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.kube import BenchCluster, ReadyWatcher, secret_path, start_cluster
from bench.operator import Operator, proc_stats
from bench.workload import (
    LABEL,
    OPERATOR_PRINCIPAL,
    Example,
    Item,
    Workspace,
    buckets,
    build,
    connection_objects,
    create_all,
    identity_secret,
    load_examples,
    secret_objects,
    team_namespaces,
)
from wsconn_testbed.emulator.client import EmulatorClient, running_emulator

# ARM's documented per-subscription token buckets (capacity, refill per second) of one principal; the
# subscription's global buckets over all principals are GLOBAL_FACTOR times these (emulator/throttling.py).
ARM_BUCKETS = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}
# The operator's client-side buckets have ARM's sizes and follow ARM's remaining-tokens headers, keeping
# OPERATOR_MARGIN tokens in hand (arm/throttle.py).
OPERATOR_RATE_DEFAULTS = {"READ": 25.0, "WRITE": 10.0, "DELETE": 10.0}
OPERATOR_WRITE_BURST = 200
OPERATOR_MARGIN = 5
OPERATOR_ARM_CONCURRENCY = 16
# A create is a GET (does the connection exist already: adopt or refuse, reconciler/apply.py) and a PUT.
ARM_CALLS_PER_CREATE = 2
GLOBAL_FACTOR = 15
REAL_CHECKED_TIME_INTERVAL = 3600.0  # --checked-time-interval's default, scaled like the drift interval
PHASES = ("restart", "rotation", "steady")
REAL_DRIFT_INTERVAL = 600.0  # the operator's default, which the steady-state phase stands for
REAL_PASS_TIMEOUT = 120.0  # --pass-timeout's default, stretched by the rate scale
SETTLE_SECONDS = 3.0
# "Idle" before the create phase: the operator used under IDLE_SHARE of a core over IDLE_WINDOW seconds. A
# healthy operator has not necessarily handled its initial listing yet (7,500 Secrets at N = 10,000), and a
# Secret event handled after the resources using it were submitted patches each of them (bench/README.md).
IDLE_WINDOW = 2.0
IDLE_SHARE = 0.05  # after a phase's goal is reached, late requests (events, status) still belong to it
# An operator whose reconciled count has not grown for this long is stuck. 120 s: on a machine shared with
# other work (load average near 20 on 2 cores on 2026-12-02) a healthy restart at N=1000 showed no progress
# for over 30 s while Kopf listed and indexed 1,750 objects.
STALL_SECONDS = 120.0
# ...and at large N, Kopf's initial listing and indexing alone grows with N (10,000 resources and 7,500
# Secrets before the first pass): 30 ms per resource, 300 s at N = 10,000.
STALL_SECONDS_PER_RESOURCE = 0.03
NAMESPACES = ["bench-a", "bench-b", "bench-c"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class SizePlan:
    """What to run for one N."""

    size: int
    scale: int  # time compression of the steady-state phase
    rotations: int
    rotation_pace: float  # seconds between two Secret rotations
    latency: tuple[float, float]  # ARM latency per call, uniform [min, max] seconds
    subscriptions: int = 1  # one workspace in each; the N connections round-robin over them
    second_client_rate: float = 0.0  # writes/s another client of the same principal spends during create
    phases: tuple[str, ...] = PHASES  # which phases after create run
    steady_fraction: float = 1.0  # the part of a scaled hour counted in steady state
    workload: str = "examples"  # examples: all 12 authTypes round-robin; apikey: ApiKey only (ASO's)
    with_aso: bool = False  # then Azure Service Operator's phases (bench/aso_phases.py)
    aso_workers: int = 1  # ASO's MAX_CONCURRENT_RECONCILES (its default and its chart's)
    aso_sync_period: float = 3600.0  # ASO's AZURE_SYNC_PERIOD in real seconds (its default: 1 h)
    identities: int = 0  # team namespaces with an Azure identity of their own (0: the 3 bench namespaces)
    arm_rate_scale: float = 1.0  # ARM's refill rates divided by this in create, restart and rotation
    stall_seconds: float = 0.0  # no progress for this long fails a phase (0: STALL_SECONDS or by N)

    @property
    def teams(self) -> bool:
        """Whether the workload lives in team namespaces (one subscription each) rather than bench-a/b/c."""
        return self.identities > 0

    @property
    def namespaces(self) -> list[str]:
        """The namespaces of the workload: team-00.. (as many as subscriptions or identities, whichever is
        more) with identities, else bench-a, bench-b, bench-c."""
        return team_namespaces(max(self.subscriptions, self.identities)) if self.teams else NAMESPACES

    @property
    def stall(self) -> float:
        """Seconds without progress after which a settling operator counts as stuck."""
        return self.stall_seconds or max(STALL_SECONDS, STALL_SECONDS_PER_RESOURCE * self.size)

    def bucket_counts(self) -> dict[tuple[int, str], int]:
        """Connections per ARM write bucket: (subscription index, principal)."""
        return dict(buckets(self.size, len(self.namespaces), self.subscriptions, self.identities, self.teams))

    def write_rate(self) -> float:
        """ARM's write refill rate per principal and subscription in the real-time phases."""
        return ARM_BUCKETS["writes"][1] / self.arm_rate_scale

    def _spent(self, bucket: tuple[int, str]) -> float:
        # The second client acts as the operator's own principal in the first subscription.
        return self.second_client_rate if bucket == (0, OPERATOR_PRINCIPAL) else 0.0

    @property
    def drift_interval(self) -> float:
        """The scaled drift interval."""
        return REAL_DRIFT_INTERVAL / self.scale

    @property
    def scaled_hour(self) -> float:
        """How many seconds stand for one hour in the steady-state phase."""
        return 3600.0 / self.scale

    @property
    def warmup(self) -> float:
        """Time skipped before counting steady state: every resource's first check comes due at once after
        a restart (lastCheckedTime is old), so the first interval is a burst, not the steady pattern."""
        return 1.5 * self.drift_interval

    def arm_floor(self) -> float:
        """ARM's own floor for the slowest write bucket (a principal in a subscription): one round of latency
        while the 200-token bucket covers its n writes, plus (n - 200) / (10/F - r) s of refill beyond it, where
        F is the rate scale and r what a second client of the same principal spends."""
        capacity = ARM_BUCKETS["writes"][0]
        return self.latency[1] + max(
            max(0.0, (n - capacity) / (self.write_rate() - self._spent(b)))
            for b, n in self.bucket_counts().items()
        )

    def client_floor(self) -> float:
        """The floor under the operator's own default limits, which it never exceeds by design: its write
        buckets (ARM's, less 5 tokens in hand) and 16 ARM requests in flight at the mean latency, two per create. The part of
        the ratio to ARM's floor that is the operator's safety margin, not its overhead."""
        bucket = self.latency[1] + max(
            max(0.0, (n - OPERATOR_WRITE_BURST + OPERATOR_MARGIN) / (self.write_rate() - self._spent(b)))
            for b, n in self.bucket_counts().items()
        )
        calls = ARM_CALLS_PER_CREATE * self.size
        rounds = math.ceil(calls / OPERATOR_ARM_CONCURRENCY) * (self.latency[0] + self.latency[1]) / 2
        return max(bucket, rounds)

    def poll_interval(self) -> float:
        """How often the harness reads the operator's /metrics while it settles: each read costs the harness
        a new HTTP client (tens of ms of CPU: 12 of the harness's CPU seconds in a 57 s restart at N = 2,000
        and 0.2 s) and the operator a pass over its per-resource table, so less often at large N (1 s at
        N = 10,000, a small part of a settle time of minutes)."""
        return min(1.0, max(0.1, self.size / 10_000))


@dataclass
class Mark:
    """A phase boundary: positions in the emulator's and the audit log, and the clock."""

    seq: int
    audit: int
    at: float
    cpu: float = 0.0
    components: dict[str, float] = field(default_factory=dict)


@dataclass
class Context:
    """What every phase needs."""

    plan: SizePlan
    bench: BenchCluster
    emulator: EmulatorClient
    workspaces: list[Workspace]
    items: list[Item]
    run_id: str
    work_dir: Path
    say: Say
    operator_env: dict[str, str] = field(default_factory=dict)
    operators: list[Operator] = field(default_factory=list)
    team_clients: dict[str, str] = field(default_factory=dict)  # namespace -> its identity's client id

    @property
    def operator_client(self) -> str:
        """The operator's Azure client id (to tell its requests from another client's)."""
        return self.operator_env["AZURE_CLIENT_ID"]

    @property
    def operator_clients(self) -> frozenset[str]:
        """Every principal the operator acts as: its own and the team namespaces' identities."""
        return frozenset({self.operator_client, *self.team_clients.values()})

    def mark(self, operator: Operator | None = None) -> Mark:
        """Positions now; with an operator, also its CPU seconds so far."""
        m = Mark(self.emulator.last_seq(), self.bench.audit.mark(), time.time())
        m.components = component_cpu({o.pid for o in self.operators})
        if operator is not None:
            m.cpu = operator.stats().cpu_seconds
        return m

    def arm(self, start: Mark, end: Mark, client_id: str | None = None) -> dict[str, Any]:
        """ARM requests between two marks on the benchmark's workspaces, by one client (default: every
        principal of the operator)."""
        clients = {client_id} if client_id else self.operator_clients
        prefixes = tuple(w.id.lower() for w in self.workspaces)
        entries = [
            e
            for e in self.emulator.requests(since=start.seq)
            if e["seq"] <= end.seq and e["client_id"] in clients and e["path"].lower().startswith(prefixes)
        ]
        return summarize_arm(entries)

    def start_operator(self, label: str, **extra: str) -> Operator:
        """Start `wsconn run` with the common environment plus `extra`, and wait until it is healthy."""
        env = {**self.operator_env, **extra}
        operator = Operator(env=env, log_path=self.work_dir / f"operator-{label}.log").start()
        self.operators.append(operator)
        operator.wait_healthy()
        return operator


def wait_idle(operator: Operator, timeout: float = 600.0) -> float:
    """Wait until the operator used under IDLE_SHARE of a core over the last IDLE_WINDOW seconds; the
    seconds from its start until then (or `timeout`)."""
    deadline = time.monotonic() + timeout
    before = operator.stats().cpu_seconds
    while time.monotonic() < deadline:
        time.sleep(IDLE_WINDOW)
        now = operator.stats().cpu_seconds
        if now - before < IDLE_SHARE * IDLE_WINDOW:
            break
        before = now
    return time.time() - operator.started_at


def component_cpu(skip: set[int]) -> dict[str, float]:
    """CPU seconds so far (utime + stime) of the harness and of each process it started but those in `skip`
    (the operators, counted apart), by program name: what the control plane and the emulator cost beside the
    operator on the same cores."""
    out = {"harness": proc_stats(os.getpid()).cpu_seconds}
    for pid in _children(os.getpid()) - skip:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            # A Python console script runs as `python3 <script>`: name it by the script.
            program = argv[1] if Path(argv[0].decode()).name.startswith("python") else argv[0]
            name = Path(program.decode()).name
            out[name] = out.get(name, 0.0) + proc_stats(pid).cpu_seconds
        except (OSError, IndexError):  # exited meanwhile
            continue
    return out


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def cpu_between(start: Mark, end: Mark) -> dict[str, float]:
    """CPU seconds each component spent between two marks."""
    return {k: round(v - start.components.get(k, 0.0), 2) for k, v in sorted(end.components.items())}


def summarize_arm(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Reads, writes (issued and applied), throttled answers, and counts by method and status."""
    by = Counter(f"{e['method']} {e['status']}" for e in entries)
    return {
        "requests": len(entries),
        "reads": sum(1 for e in entries if e["op"] == "reads"),
        "writes": sum(1 for e in entries if e["op"] == "writes"),
        "writes_applied": sum(1 for e in entries if e["op"] == "writes" and e["status"] == 200),
        "throttled": sum(1 for e in entries if e["status"] == 429),
        "clients": len({e["client_id"] for e in entries}),
        "by_method_status": dict(by.most_common()),
    }


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method: interpolates between observed values)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_size(plan: SizePlan, repo: Path, work_dir: Path, say: Say) -> dict[str, Any]:
    """All phases for one N; returns the results (JSON-ready)."""
    t_begin = time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    say(f"N={plan.size}: starting the control plane (with audit log) and the emulator")
    namespaces = plan.namespaces
    bench = start_cluster(work_dir / "cluster", repo, namespaces)
    result: dict[str, Any] = {"n": plan.size, "plan": {**asdict(plan), "latency": list(plan.latency)}}
    ctx: Context | None = None
    try:
        with running_emulator(work_dir / "emulator-run") as (_, emulator):
            workspaces = [
                Workspace(str(uuid.uuid4()), "rg-bench", f"ws-bench-{k}") for k in range(plan.subscriptions)
            ]
            for workspace in workspaces:
                emulator.add_workspace(workspace.subscription, workspace.resource_group, workspace.name)
            # ARM-like latency on every ARM call, and ARM's real buckets (explicitly: the default, restated),
            # their refill rates divided by the rate scale.
            emulator.faults([{"latency": list(plan.latency)}], seed=plan.size)
            emulator.admin("PUT", "throttle", _limits(1 / plan.arm_rate_scale))
            items = build(
                workload_examples(repo, plan.workload),
                plan.size,
                namespaces,
                workspaces,
                run_id,
                teams=plan.teams,
            )
            ctx = Context(plan, bench, emulator, workspaces, items, run_id, work_dir, say)
            identities = register_identities(ctx)
            ctx.operator_env = {
                **emulator.operator_env(),
                **operator_rates(1 / plan.arm_rate_scale),
                # A pass waits for ARM's tokens F times longer at rate scale F: its deadline stretches as well,
                # or passes queued behind the scaled write bucket fail it and wait on Kopf's retry backoff.
                "WSCONN_PASS_TIMEOUT": f"{REAL_PASS_TIMEOUT * plan.arm_rate_scale:g}",
                "KUBECONFIG": str(bench.operator_kubeconfig),
                "WSCONN_NAMESPACES": ",".join(namespaces),
                "WSCONN_LOG_LEVEL": "info",
            }
            if plan.teams:
                # As the chart's hardened values would: a team namespace never falls back to the operator's
                # identity; the namespaces without one of their own are the only ones allowed it.
                ctx.operator_env["WSCONN_OPERATOR_IDENTITY_NAMESPACES"] = ",".join(
                    n for n in namespaces if n not in ctx.team_clients
                )
            # Secrets exist before the clock starts, as when a GitOps tool applies them first.
            create_all(bench.kube, identities + secret_objects(items))
            result["control_plane"] = {
                "version": bench.plane.version,
                "startup_seconds": round(bench.plane.startup_seconds, 2),
            }
            result["workload"] = {
                **_describe_workload(items),
                "identities": len(ctx.team_clients),
                "operator_identity_namespaces": sorted(set(namespaces) - set(ctx.team_clients)),
                "write_buckets": {f"{w}/{p}": n for (w, p), n in sorted(plan.bucket_counts().items())},
            }
            first = ctx.start_operator("1-create")
            idle = wait_idle(first)
            say(f"N={plan.size}: operator #1 idle {idle:.1f}s after its start (its initial listing handled)")
            result["create"] = {"operator_idle_after_seconds": round(idle, 2), **phase_create(ctx, first)}
            try:
                _after_create(ctx, first, result, repo)
            except (Exception, KeyboardInterrupt) as exc:  # keep the figures of the phases before it
                traceback.print_exc()
                result["error"] = f"{type(exc).__name__}: {exc}"
                # Ctrl-C or SIGTERM (bench/cli.py): the results so far are written, then the run ends.
                result["interrupted"] = isinstance(exc, KeyboardInterrupt)
    finally:
        if ctx is not None:
            for operator in ctx.operators:
                operator.stop()
        bench.stop()
    result["checks"] = _checks(plan, result)
    if "aso" in result:
        result["checks"].update(_aso_checks(result["aso"], plan.size))
    result["wall_seconds"] = round(time.monotonic() - t_begin, 1)
    result["harness_peak_rss_mib"] = round(proc_stats(os.getpid()).peak_rss_mib, 1)
    return result


def _after_create(ctx: Context, first: Operator, result: dict[str, Any], repo: Path) -> None:
    """The phases after create, in order; each adds its figures to `result`."""
    plan = ctx.plan
    if "restart" in plan.phases:
        second = phase_restart(ctx, first, result)
        if "rotation" in plan.phases:
            result["rotation"] = phase_rotation(ctx, second)
        _stop(ctx, second, "2-restart+rotation", result)
    else:
        _stop(ctx, first, "1-create", result)
    if "steady" in plan.phases:
        result["steady"] = phase_steady(ctx, result)
    if plan.with_aso:
        result["aso"] = _run_aso(ctx, repo)


def workload_examples(repo: Path, workload: str) -> list[Example]:
    """The examples the workload cycles through: all of them, or the ApiKey one only (`apikey`: the
    workload Azure Service Operator runs in `--with-aso`, for a like-for-like comparison)."""
    examples = load_examples(repo)
    if workload == "examples":
        return examples
    if workload == "apikey":
        return [e for e in examples if e.connection["spec"]["authType"] == "ApiKey"]
    raise ValueError(f"unknown workload {workload!r} (known: examples, apikey)")


def _run_aso(ctx: Context, repo: Path) -> dict[str, Any]:
    # Imported here: bench.aso_phases builds on this module.
    from bench.aso_phases import run_aso

    plan = ctx.plan
    return run_aso(ctx, repo, workers=plan.aso_workers, sync_period=plan.aso_sync_period)


def _aso_checks(aso: dict[str, Any], size: int) -> dict[str, bool]:
    from bench.aso_phases import aso_checks

    return aso_checks(aso, size)


def register_identities(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    """An app registration in the emulator for each of the first `identities` team namespaces, allowed on its
    namespace's workspace only (on Azure: a role assignment there), and the namespace's
    `wsconn-azure-credentials` Secret with its credentials (path, object), to create with the workload's
    Secrets. Records each namespace's client id in the context."""
    plan = ctx.plan
    out = []
    for k, namespace in enumerate(plan.namespaces[: plan.identities]):
        workspace = ctx.workspaces[k % len(ctx.workspaces)]  # placement: namespace k is in workspace k mod W
        app = ctx.emulator.admin(
            "POST", "clients", {"client_id": str(uuid.uuid4()), "scopes": [workspace.id]}
        )
        ctx.team_clients[namespace] = str(app["client_id"])
        secret = identity_secret(namespace, app["tenant_id"], app["client_id"], app["secret"], ctx.run_id)
        out.append((secret_path(namespace), secret))
    return out


def readiness_figures(
    ready_times: list[float],
    *,
    all_ready: bool,
    start: float,
    submitted: float,
    last_put: float,
    floor: float,
) -> dict[str, Any]:
    """The create figures every operator's create phase reports alike (times from the clock's start)."""
    elapsed = (ready_times[-1] if ready_times else time.time()) - start
    return {
        "all_ready": all_ready,
        "ready": len(ready_times),
        "submit_seconds": round(submitted - start, 2),
        "time_to_all_ready_seconds": round(elapsed, 2),
        "time_to_half_ready_seconds": round(ready_times[len(ready_times) // 2] - start, 2)
        if ready_times
        else None,
        "last_put_seconds": round(last_put - start, 2),
        "arm_floor_seconds": round(floor, 2),
        "ratio_to_arm_floor": round(elapsed / floor, 2),
    }


def operator_rates(scale: float) -> dict[str, str]:
    """The operator's client-side refill rates (WSCONN_ARM_*_RATE) times `scale`, as ARM's are scaled (at
    scale 1 the defaults, restated: a later phase's settings replace an earlier one's)."""
    return {f"WSCONN_ARM_{op}_RATE": f"{rate * scale:g}" for op, rate in OPERATOR_RATE_DEFAULTS.items()}


def _limits(scale: float) -> dict[str, Any]:
    """The emulator's throttle settings: ARM's capacities, refill rates times `scale`, for each principal and
    over all principals of a subscription (global: GLOBAL_FACTOR times ARM's)."""
    limits: dict[str, Any] = {op: {"capacity": c, "rate": r * scale} for op, (c, r) in ARM_BUCKETS.items()}
    limits["global"] = {
        op: {"capacity": c * GLOBAL_FACTOR, "rate": r * scale * GLOBAL_FACTOR}
        for op, (c, r) in ARM_BUCKETS.items()
    }
    limits["enabled"] = True
    return limits


def _describe_workload(items: list[Item]) -> dict[str, Any]:
    return {
        "namespaces": dict(sorted(Counter(i.namespace for i in items).items())),
        "auth_types": dict(sorted(Counter(i.auth_type for i in items).items())),
        "api_versions": dict(sorted(Counter(i.api_version for i in items).items())),
        "secrets": sum(len(i.secrets) for i in items),
        "with_secrets": sum(1 for i in items if i.secrets),
    }


def phase_create(ctx: Context, operator: Operator) -> dict[str, Any]:
    """Submit N connections with the operator running; time until all are Ready."""
    plan = ctx.plan
    ctx.say(f"N={plan.size}: create: submitting {plan.size} WorkspaceConnections")
    watcher = ReadyWatcher(ctx.bench.kube, f"{LABEL}={ctx.run_id}")
    watcher.start()
    spender = SecondClient(ctx, plan.second_client_rate) if plan.second_client_rate else None
    start = ctx.mark(operator)
    if spender is not None:
        spender.start()
    create_all(ctx.bench.kube, connection_objects(ctx.items))
    submitted = time.time()
    # Beyond ARM's floor, submitting and admitting N objects takes the API server about 30 ms each here.
    timeout = 3 * plan.arm_floor() + 180 + 0.05 * plan.size
    all_ready = watcher.wait_count(plan.size, timeout, stall=plan.stall)
    watcher.stop()
    second_client = spender.stop() if spender is not None else None
    ready_times = sorted(watcher.ready_at.values())
    last_ready = ready_times[-1] if ready_times else time.time()
    time.sleep(SETTLE_SECONDS)
    end = ctx.mark(operator)
    arm = ctx.arm(start, end)
    mine = [
        e
        for e in ctx.emulator.requests(since=start.seq)
        if e["seq"] <= end.seq and e["client_id"] in ctx.operator_clients
    ]
    puts = [e for e in mine if e["method"] == "PUT"]
    last_put = max((_epoch(e["time"]) for e in puts), default=start.at)
    first_request = min((_epoch(e["time"]) for e in mine), default=start.at)
    elapsed = last_ready - start.at
    stored = sum(len(ctx.emulator.connections(prefix=w.id)) for w in ctx.workspaces)
    ctx.say(
        f"N={plan.size}: create: {len(ready_times)}/{plan.size} Ready in {elapsed:.1f}s (ARM floor "
        f"{plan.arm_floor():.1f}s at writes {plan.write_rate():g}/s, rate scale {plan.arm_rate_scale:g}), "
        f"{arm['writes_applied']} PUTs by {arm['clients']} principals, {arm['reads']} reads, "
        f"{arm['throttled']} x 429"
    )
    return {
        **readiness_figures(
            ready_times,
            all_ready=all_ready,
            start=start.at,
            submitted=submitted,
            last_put=last_put,
            floor=plan.arm_floor(),
        ),
        "first_arm_request_seconds": round(first_request - start.at, 2),
        "last_put_seconds_by_workspace": last_put_by_workspace(ctx.workspaces, puts, start.at),
        "arm_rate_scale": plan.arm_rate_scale,
        "arm_write_rate_per_bucket": plan.write_rate(),
        "client_bucket_floor_seconds": round(plan.client_floor(), 2),
        "arm": arm,
        "connections_in_arm": stored,
        "kubernetes": ctx.bench.audit.summary(start.audit, end.audit),
        "cpu_seconds": round(end.cpu - start.cpu, 2),
        "other_cpu_seconds": cpu_between(start, end),
        "second_client": second_client,
    }


def last_put_by_workspace(
    workspaces: list[Workspace], puts: list[dict[str, Any]], since: float
) -> dict[str, float]:
    """Seconds from `since` to the last PUT answered in each workspace (one per subscription): which
    subscription finished last, and by how much."""
    out = {}
    for w in workspaces:
        prefix = w.id.lower() + "/"
        times = [_epoch(e["time"]) for e in puts if e["path"].lower().startswith(prefix)]
        if times:
            out[w.name] = round(max(times) - since, 2)
    return out


class SecondClient:
    """Another client of the operator's own principal (its client id and secret) spending ARM writes in the
    first subscription at `rate` per second while the operator creates: PUTs of connections in a workspace of
    its own there, so ARM counts them in the operator's bucket but the request counts (filtered by the
    benchmark's workspaces) leave them out. A thread with its own HTTP client."""

    def __init__(self, ctx: Context, rate: float) -> None:
        self._ctx, self._rate = ctx, rate
        home = ctx.workspaces[0]
        self._workspace = Workspace(home.subscription, home.resource_group, "ws-second-client")
        ctx.emulator.add_workspace(home.subscription, home.resource_group, self._workspace.name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="second-client", daemon=True)
        self.statuses: Counter[int] = Counter()

    def start(self) -> None:
        """Begin spending."""
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """Stop; what it sent and how ARM answered."""
        self._stop.set()
        self._thread.join(timeout=30)
        return {
            "writes_per_second": self._rate,
            "writes": sum(self.statuses.values()),
            "throttled": self.statuses.get(429, 0),
            "by_status": {str(k): v for k, v in sorted(self.statuses.items())},
        }

    def _run(self) -> None:
        info = self._ctx.emulator.info
        headers = {"Authorization": f"Bearer {self._ctx.emulator.token()}"}
        body = {
            "properties": {"authType": "None", "category": "PythonFeed", "target": "https://pypi.org/simple"}
        }
        with httpx.Client(base_url=info["arm_endpoint"], verify=info["ca_file"], timeout=30) as http:
            k, began = 0, time.monotonic()
            while not self._stop.is_set():
                k += 1
                path = f"{self._workspace.id}/connections/other-{k % 50}"
                try:
                    answer = http.put(path, params={"api-version": "2024-04-01"}, json=body, headers=headers)
                    self.statuses[answer.status_code] += 1
                except httpx.HTTPError:
                    self.statuses[0] += 1
                self._stop.wait(max(0.0, began + k / self._rate - time.monotonic()))


def phase_restart(ctx: Context, first: Operator, result: dict[str, Any]) -> Operator:
    """Stop operator #1, start #2 with the same settings, measure until it has settled.

    An operator that stops making progress before every resource is re-examined fails the run for this N
    (the first run of this harness found such a deadlock: docs/configuration.md, nolar/kopf#1243).
    """
    plan = ctx.plan
    _stop(ctx, first, "1-create", result)
    ctx.say(f"N={plan.size}: restart: SIGTERM sent, starting a new operator process")
    start = ctx.mark()
    second = ctx.start_operator("2-restart")
    healthy = time.time()
    settled = second.wait_settled(
        plan.size, timeout=300 + plan.size * 0.5, stall=plan.stall, poll=plan.poll_interval()
    )
    if settled is None:
        raise RuntimeError(
            f"restart: {second.ready_resources()} of {plan.size} resources re-examined, then no progress "
            f"for {plan.stall:g}s"
        )
    time.sleep(SETTLE_SECONDS)
    end = ctx.mark(second)
    arm = ctx.arm(start, end)
    elapsed = settled - second.started_at
    ctx.say(f"N={plan.size}: restart: settled {elapsed:.1f}s after start, {arm['writes']} ARM writes")
    result["restart"] = dict(
        time_to_healthy_seconds=round(healthy - second.started_at, 2),
        time_to_settled_seconds=round(elapsed, 2),
        arm=arm,
        kubernetes=ctx.bench.audit.summary(start.audit, end.audit),
        cpu_seconds=round(end.cpu, 2),  # the whole new process so far: start-up included
        other_cpu_seconds=cpu_between(start, end),
    )
    return second


def fire_rotations(ctx: Context, candidates: list[Item], label: str) -> list[tuple[Item, float]]:
    """Change one Secret value of `plan.rotations` items spread over `candidates`, one every rotation pace;
    (item, when its patch was sent) for each."""
    plan = ctx.plan
    step = max(1, len(candidates) // plan.rotations)
    chosen = [candidates[(k * step) % len(candidates)] for k in range(plan.rotations)]
    ctx.say(f"N={plan.size}: {label}: {len(chosen)} Secret changes, one every {plan.rotation_pace}s")
    fired: list[tuple[Item, float]] = []
    for item in chosen:
        secret = item.secrets[0]
        key = sorted(secret["stringData"])[0]
        value = f"{key}-rotated-{uuid.uuid4().hex}"
        secret["stringData"][key] = value  # the workload's view stays current
        path = secret_path(item.namespace, secret["metadata"]["name"])
        at = time.time()
        ctx.bench.kube.merge_patch(path, {"stringData": {key: value}})
        fired.append((item, at))
        time.sleep(plan.rotation_pace)
    return fired


def phase_rotation(ctx: Context, operator: Operator) -> dict[str, Any]:
    """Change one Secret value at a time; latency from the patch to the PUT that carries it."""
    plan = ctx.plan
    start = ctx.mark(operator)
    fired = fire_rotations(ctx, [i for i in ctx.items if i.secrets], "rotation")
    latencies = rotation_latencies(ctx, start, fired, timeout=60.0)
    time.sleep(SETTLE_SECONDS)
    end = ctx.mark(operator)
    arm = ctx.arm(start, end)
    found = [v for v in latencies if v is not None]
    out: dict[str, Any] = {
        "rotations": len(fired),
        "observed": len(found),
        "pace_seconds": plan.rotation_pace,
        "arm": arm,
        "kubernetes": ctx.bench.audit.summary(start.audit, end.audit),
        "cpu_seconds": round(end.cpu - start.cpu, 2),
    }
    if found:
        out.update(latency_figures(found))
        ctx.say(
            f"N={plan.size}: rotation: p50 {out['p50_seconds']}s p95 {out['p95_seconds']}s "
            f"p99 {out['p99_seconds']}s ({len(found)}/{len(fired)} observed)"
        )
    return out


def latency_figures(found: list[float]) -> dict[str, float]:
    """Percentiles (p50, p95, p99), min, max and mean of observed latencies, rounded to milliseconds."""
    return {
        "p50_seconds": round(percentile(found, 50), 3),
        "p95_seconds": round(percentile(found, 95), 3),
        "p99_seconds": round(percentile(found, 99), 3),
        "min_seconds": round(min(found), 3),
        "max_seconds": round(max(found), 3),
        "mean_seconds": round(statistics.fmean(found), 3),
    }


def rotation_latencies(
    ctx: Context,
    start: Mark,
    fired: list[tuple[Item, float]],
    timeout: float,
    client_id: str | None = None,
) -> list[float | None]:
    """For each rotation in order, seconds from its patch to the first later successful PUT of its connection
    by `client_id` (default: any of the operator's principals) not already matched to an earlier rotation (the quick run rotates
    some Secrets twice)."""
    clients = {client_id} if client_id else ctx.operator_clients
    deadline = time.monotonic() + timeout
    while True:
        puts = [
            e
            for e in ctx.emulator.requests(since=start.seq)
            if e["method"] == "PUT" and e["status"] == 200 and e["client_id"] in clients
        ]
        used: set[int] = set()
        out: list[float | None] = []
        for item, at in fired:
            suffix = f"/connections/{item.name}".lower()
            match = next(
                (
                    e
                    for e in puts
                    if e["seq"] not in used and e["path"].lower().endswith(suffix) and _epoch(e["time"]) >= at
                ),
                None,
            )
            if match is not None:
                used.add(match["seq"])
            out.append(_epoch(match["time"]) - at if match is not None else None)
        if all(v is not None for v in out) or time.monotonic() > deadline:
            return out
        time.sleep(0.5)


def phase_steady(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    """One scaled hour of steady state with the scaled drift interval."""
    plan = ctx.plan
    scale = plan.scale
    ctx.emulator.admin("PUT", "throttle", _limits(scale))
    ctx.say(
        f"N={plan.size}: steady: drift interval {plan.drift_interval:g}s standing for {REAL_DRIFT_INTERVAL:g}s "
        f"(x{scale}); warm-up {plan.warmup:g}s, then one scaled hour ({plan.scaled_hour:g}s)"
    )
    third = ctx.start_operator(
        "3-steady",
        WSCONN_DRIFT_INTERVAL=f"{plan.drift_interval:g}",
        WSCONN_CHECKED_TIME_INTERVAL=f"{REAL_CHECKED_TIME_INTERVAL / scale:g}",
        **operator_rates(scale),
    )
    settled = third.wait_settled(
        plan.size, timeout=300 + plan.size * 0.5, stall=plan.stall, poll=plan.poll_interval()
    )
    if settled is None:
        raise RuntimeError("the steady-state operator did not settle")
    time.sleep(plan.warmup)
    start = ctx.mark(third)
    time.sleep(plan.scaled_hour * plan.steady_fraction)
    end = ctx.mark(third)
    arm = ctx.arm(start, end)
    kube = ctx.bench.audit.summary(start.audit, end.audit)
    hours = (end.at - start.at) / plan.scaled_hour  # 1.0 up to the marks' own overhead
    n = plan.size
    out = {
        "scale": scale,
        "drift_interval_seconds": plan.drift_interval,
        "scaled_hour_seconds": plan.scaled_hour,
        "checked_time_interval_seconds": REAL_CHECKED_TIME_INTERVAL / scale,
        "window_seconds": round(end.at - start.at, 2),
        "arm": arm,
        "arm_reads_per_resource_hour": round(arm["reads"] / n / hours, 2),
        "arm_writes_per_resource_hour": round(arm["writes"] / n / hours, 3),
        "kubernetes": kube,
        "kube_requests_per_resource_hour": round(kube["requests"] / n / hours, 2),
        "kube_writes_per_resource_hour": round(kube["writes"] / n / hours, 2),
        "cpu_seconds_per_scaled_hour": round((end.cpu - start.cpu) / hours, 2),
    }
    ctx.say(
        f"N={plan.size}: steady: {out['arm_reads_per_resource_hour']} ARM reads and "
        f"{out['arm_writes_per_resource_hour']} writes per resource per hour"
    )
    _stop(ctx, third, "3-steady", result)
    return out


def _stop(ctx: Context, operator: Operator, label: str, result: dict[str, Any]) -> None:
    """SIGTERM an operator and keep its final CPU and peak memory."""
    # Kopf cancels every pending handler on SIGTERM; at N = 2,000 with passes queued that took 20 s.
    code = operator.stop(timeout=max(60.0, 0.01 * ctx.plan.size))
    stats = operator.last_stats
    result.setdefault("operators", {})[label] = {
        "exit_code": code,
        "cpu_seconds": round(stats.cpu_seconds, 2) if stats else None,
        "peak_rss_mib": round(stats.peak_rss_mib, 1) if stats else None,
        "threads": stats.threads if stats else None,
    }


def _checks(plan: SizePlan, result: dict[str, Any]) -> dict[str, bool]:
    """The invariants the issue asks for, each true or false."""
    create, restart, steady = result.get("create", {}), result.get("restart", {}), result.get("steady", {})
    rotation = result.get("rotation", {})
    checks = {
        "all_ready": bool(create.get("all_ready")),
        "create_writes_equal_n": create.get("arm", {}).get("writes") == plan.size
        and create.get("arm", {}).get("writes_applied") == plan.size,
        "connections_in_arm_equal_n": create.get("connections_in_arm") == plan.size,
        "create_no_429": create.get("arm", {}).get("throttled") == 0,
        "restart_writes_zero": restart.get("arm", {}).get("writes") == 0,
        "restart_kube_writes_zero": restart.get("kubernetes", {}).get("writes") == 0,
        "steady_writes_zero": steady.get("arm", {}).get("writes") == 0,
        "rotations_all_observed": rotation.get("observed") == rotation.get("rotations"),
        "operators_exit_zero": all(o.get("exit_code") == 0 for o in result.get("operators", {}).values()),
    }
    skipped = {
        "restart": ("restart_writes_zero", "restart_kube_writes_zero"),
        "rotation": ("rotations_all_observed",),
        "steady": ("steady_writes_zero",),
    }
    for phase, names in skipped.items():
        if phase not in plan.phases:
            for name in names:
                checks.pop(name)
    return checks


def _epoch(iso: str) -> float:
    """The emulator's log time (ISO 8601, UTC, 'Z') as seconds since the epoch."""
    return dt.datetime.fromisoformat(iso).timestamp()
