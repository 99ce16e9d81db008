"""Results: the machine's description, the JSON file and the markdown table."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from wsconn_testbed.controlplane import ControlPlaneError, find_binaries


def machine() -> dict[str, Any]:
    """What the figures were measured on: they only mean something next to this."""
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "nproc": _command(["nproc"]) or str(os.cpu_count()),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu_model": cpu_model or platform.processor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kube_apiserver": _binary_version("kube-apiserver"),
        "etcd": _binary_version("etcd"),
        "kopf": _package_version("kopf"),
        "operator": _package_version("azureml-wsconn-operator"),
    }


def _command(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return ""
    return done.stdout.strip()


def _binary_version(name: str) -> str:
    try:
        binary = find_binaries() / name
    except ControlPlaneError:
        return ""
    if not binary.exists():
        return ""
    # "Kubernetes v1.36.3" / "etcd Version: 3.4.23": keep the name and the version only.
    first = (_command([str(binary), "--version"]).splitlines() or [""])[0]
    return f"{name} {first.split()[-1]}" if first else ""


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def write(results: dict[str, Any], out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write <stem>.json and <stem>.md into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    md_path = out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    md_path.write_text(markdown(results, json_path.name))
    return json_path, md_path


def _get(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _rows(size: dict[str, Any]) -> list[tuple[str, str]]:
    """(figure, value) rows for one N."""
    n = int(size["n"])

    def g(path: str) -> Any:
        return _get(size, path)

    ops = size.get("operators") or {}
    peak = max((o.get("peak_rss_mib") or 0 for o in ops.values()), default=None)
    create_kube = g("create.kubernetes.requests")
    rot_kube, rot_count = g("rotation.kubernetes.requests"), g("rotation.rotations") or 0
    steady_writes = g("steady.arm.writes")
    plan = size.get("plan") or {}
    second = g("create.second_client")
    workload = size.get("workload") or {}
    scale = plan.get("arm_rate_scale", 1)
    return [
        (
            "Subscriptions (one workspace each) / another client spending writes (per s)",
            f"{_fmt(plan.get('subscriptions', 1))} / {_fmt(plan.get('second_client_rate') or 0)}",
        ),
        (
            "Namespaces: with an Azure identity of their own / on the operator's; principals seen by ARM, create",
            f"{_fmt(workload.get('identities', 0))} / "
            f"{_fmt(len(workload.get('operator_identity_namespaces', workload.get('namespaces') or {})))}; "
            f"{_fmt(g('create.arm.clients'))}",
        ),
        (
            "ARM's refill rates in create, restart and rotation divided by (writes per principal per s)",
            f"{_fmt(scale)} ({_fmt(10 / scale)})",
        ),
        ("**Create** N: time until every resource is Ready (s)", _fmt(g("create.time_to_all_ready_seconds"))),
        ("ARM's floor for the busiest subscription's writes (s)", _fmt(g("create.arm_floor_seconds"))),
        ("Ratio to ARM's floor", _fmt(g("create.ratio_to_arm_floor"))),
        (
            "Floor under the operator's own limits: 16 in flight, writes 200 at 10/s less 5 in hand (s)",
            _fmt(g("create.client_bucket_floor_seconds")),
        ),
        (
            "Second client: writes sent / 429 answers",
            f"{_fmt(second.get('writes'))} / {_fmt(second.get('throttled'))}" if second else "-",
        ),
        (
            "Operator #1 idle before the clock starts, after its start (s)",
            _fmt(g("create.operator_idle_after_seconds")),
        ),
        ("Submission of the N objects took (s)", _fmt(g("create.submit_seconds"))),
        ("First ARM request of the operator at (s)", _fmt(g("create.first_arm_request_seconds"))),
        ("Last ARM PUT answered at (s)", _fmt(g("create.last_put_seconds"))),
        (f"ARM writes during create (must be {n:,})", _fmt(g("create.arm.writes"))),
        ("ARM reads during create", _fmt(g("create.arm.reads"))),
        ("ARM 429 answers during create", _fmt(g("create.arm.throttled"))),
        (
            "Kubernetes API requests per resource, create",
            _fmt(create_kube / n if create_kube is not None else None),
        ),
        (
            "**Restart**: time from process start until every resource is re-examined (s)",
            _fmt(g("restart.time_to_settled_seconds")),
        ),
        ("ARM writes after restart (must be 0)", _fmt(g("restart.arm.writes"))),
        ("ARM reads after restart", _fmt(g("restart.arm.reads"))),
        (
            "Kubernetes API requests after restart (of which writes)",
            f"{_fmt(g('restart.kubernetes.requests'))} ({_fmt(g('restart.kubernetes.writes'))})",
        ),
        ("**Steady state**: ARM reads per resource per hour", _fmt(g("steady.arm_reads_per_resource_hour"))),
        ("ARM writes per resource per hour", _fmt(g("steady.arm_writes_per_resource_hour"))),
        (
            "Kubernetes API requests per resource per hour (of which writes)",
            f"{_fmt(g('steady.kube_requests_per_resource_hour'))} ({_fmt(g('steady.kube_writes_per_resource_hour'))})",
        ),
        ("ARM writes per hour, all N resources", _fmt(steady_writes)),
        (
            "**Secret rotation** latency p50 / p95 / p99 (s)",
            f"{_fmt(g('rotation.p50_seconds'))} / {_fmt(g('rotation.p95_seconds'))} / {_fmt(g('rotation.p99_seconds'))}",
        ),
        ("Rotations measured", f"{_fmt(g('rotation.observed'))} of {_fmt(rot_count)}"),
        (
            "Kubernetes API requests per rotation",
            _fmt(rot_kube / rot_count if rot_kube is not None and rot_count else None),
        ),
        ("**Operator** peak RSS, highest of its processes (MiB)", _fmt(peak)),
        ("CPU seconds: create phase", _fmt(g("create.cpu_seconds"))),
        (
            "CPU seconds beside it, create: API server / etcd / emulator / harness",
            " / ".join(
                _fmt(g(f"create.other_cpu_seconds.{name}"))
                for name in ("kube-apiserver", "etcd", "wsconn-emulator", "harness")
            ),
        ),
        ("CPU seconds: restarted process until settled", _fmt(g("restart.cpu_seconds"))),
        ("CPU seconds per scaled hour of steady state", _fmt(g("steady.cpu_seconds_per_scaled_hour"))),
        (
            "Time scale of steady state",
            f"x{_fmt(g('steady.scale'))}: {_fmt(g('steady.drift_interval_seconds'))} s drift, hour = {_fmt(g('steady.scaled_hour_seconds'))} s",
        ),
        ("Wall time for this N (s)", _fmt(size.get("wall_seconds"))),
    ]


def _aso_rows(size: dict[str, Any]) -> dict[str, str]:
    """Azure Service Operator's figures for one N, keyed by the labels of `_rows` for the same N (figures
    ASO has no counterpart for are absent and shown as "-"), plus rows of its own starting with "ASO:"."""
    aso: dict[str, Any] = size["aso"]
    n = int(size["n"])

    def g(path: str) -> Any:
        return _get(aso, path)

    def per_n(value: Any) -> str:
        return _fmt(value / n if value is not None else None)

    procs = aso.get("processes") or {}
    peak = max((p.get("peak_rss_mib") or 0 for p in procs.values()), default=None)
    rot_kube, rot_count = g("rotation.kubernetes.requests"), g("rotation.rotations") or 0
    writes_per_hour = g("steady.arm_writes_per_resource_hour")
    return {
        "Subscriptions (one workspace each) / another client spending writes (per s)": "1 (its own) / 0",
        "**Create** N: time until every resource is Ready (s)": _fmt(g("create.time_to_all_ready_seconds")),
        "ARM's floor for the busiest subscription's writes (s)": _fmt(g("create.arm_floor_seconds")),
        "Ratio to ARM's floor": _fmt(g("create.ratio_to_arm_floor")),
        "Submission of the N objects took (s)": _fmt(g("create.submit_seconds")),
        "Last ARM PUT answered at (s)": _fmt(g("create.last_put_seconds")),
        f"ARM writes during create (must be {n:,})": _fmt(g("create.arm.writes")),
        "ARM reads during create": _fmt(g("create.arm.reads")),
        "ARM 429 answers during create": _fmt(g("create.arm.throttled")),
        "Kubernetes API requests per resource, create": per_n(g("create.kubernetes.requests")),
        "**Restart**: time from process start until every resource is re-examined (s)": _fmt(
            g("restart.time_to_resynced_seconds")
        ),
        "ARM writes after restart (must be 0)": _fmt(g("restart.arm.writes")),
        "ARM reads after restart": _fmt(g("restart.arm.reads")),
        "Kubernetes API requests after restart (of which writes)": (
            f"{_fmt(g('restart.kubernetes.requests'))} ({_fmt(g('restart.kubernetes.writes'))})"
        ),
        "**Steady state**: ARM reads per resource per hour": _fmt(g("steady.arm_reads_per_resource_hour")),
        "ARM writes per resource per hour": _fmt(writes_per_hour),
        "Kubernetes API requests per resource per hour (of which writes)": (
            f"{_fmt(g('steady.kube_requests_per_resource_hour'))} ({_fmt(g('steady.kube_writes_per_resource_hour'))})"
        ),
        "ARM writes per hour, all N resources": _fmt(
            round(writes_per_hour * n) if writes_per_hour is not None else None
        ),
        "**Secret rotation** latency p50 / p95 / p99 (s)": (
            f"{_fmt(g('rotation.p50_seconds'))} / {_fmt(g('rotation.p95_seconds'))} / {_fmt(g('rotation.p99_seconds'))}"
        ),
        "Rotations measured": f"{_fmt(g('rotation.observed'))} of {_fmt(rot_count)}",
        "Kubernetes API requests per rotation": _fmt(
            rot_kube / rot_count if rot_kube is not None and rot_count else None
        ),
        "**Operator** peak RSS, highest of its processes (MiB)": _fmt(peak),
        "CPU seconds: create phase": _fmt(g("create.cpu_seconds")),
        "CPU seconds: restarted process until settled": _fmt(g("restart.cpu_seconds")),
        "CPU seconds per scaled hour of steady state": _fmt(g("steady.cpu_seconds_per_scaled_hour")),
        "Time scale of steady state": (
            f"x{_fmt(g('steady.scale'))}: {_fmt(g('steady.sync_period_seconds'))} s sync period, "
            f"hour = {_fmt(g('steady.scaled_hour_seconds'))} s"
            if "steady" in aso
            else "n/a"
        ),
        "ASO: MAX_CONCURRENT_RECONCILES / AZURE_SYNC_PERIOD it stands for (s)": (
            f"{_fmt(aso.get('workers'))} / {aso.get('sync_period_seconds', 0):g}"
        ),
        "ASO: mean interval between two syncs of a resource, scaled (s)": _fmt(
            g("steady.mean_sync_interval_seconds")
        ),
        "ASO: instance-discovery requests answered through the proxy": _fmt(aso.get("discovery_requests")),
    }


def column_name(size: dict[str, Any]) -> str:
    """A column's header: its N, the second client's rate when one spent writes beside it (a run of the
    same N without one may stand on the same page), and the label bench.merge gave its run, if any."""
    rate = (size.get("plan") or {}).get("second_client_rate") or 0
    label = f" ({size['label']})" if size.get("label") else ""
    return f"N = {size['n']:,}" + (f", second client {rate:g}/s" if rate else "") + label


def _columns(sizes: list[dict[str, Any]]) -> tuple[list[str], list[str], list[list[str]]]:
    """Header cells, row labels and the cells of each row: one column per N for this operator and, where
    `--with-aso` ran, one for Azure Service Operator beside it."""
    headers: list[str] = []
    columns: list[dict[str, str]] = []
    labels: list[str] = []
    for size in sizes:
        own = _rows(size)
        # The labels of the first N lead; a later N's own labels (which name its N) map onto them by position.
        if not labels:
            labels = [label for label, _ in own]
        by_position = {labels[i]: value for i, (_, value) in enumerate(own)}
        headers.append(column_name(size))
        columns.append(by_position)
        if "aso" in size:
            aso = _aso_rows(size)
            own_labels = [label for label, _ in own]
            mapped = {labels[own_labels.index(k)] if k in own_labels else k: v for k, v in aso.items()}
            headers.append(f"ASO N = {size['n']:,}")
            columns.append(mapped)
            labels += [k for k in mapped if k not in labels]
    cells = [[column.get(label, "-") for column in columns] for label in labels]
    return headers, labels, cells


ASO_SETTINGS = (
    "- ASO columns: Azure Service Operator v2.13.0 (`bench/run --with-aso`), after this operator's phases, "
    "against the same control plane and emulator; a subscription, an app registration, a ServiceAccount and "
    "three namespaces of its own; N ApiKey connections (the only authType its objects are built for here), "
    "each with a Secret of its own; the stand-in CRD has no schema, so its submission skips the validation "
    "ours pays for. Its restart figures run until it has PUT and read every resource again (it does so after "
    "every start); its steady state runs at its own time scale (its sync period scaled so one worker keeps "
    "up) and its per-hour figures come from the mean interval between two syncs of a resource (bench/README.md)."
)


def _workload_line(sizes: list[dict[str, Any]]) -> str:
    """What this operator's workload was: every authType round-robin, or ApiKey only (as ASO's), and where."""
    workloads = {(size.get("plan") or {}).get("workload", "examples") for size in sizes}
    if workloads == {"apikey"}:
        what = "ApiKey only (examples/apikey.yaml, `--workload apikey`: the same workload as ASO's)"
    else:
        what = "examples/ (12 authTypes, 9 with Secrets) round-robin"
    teams = any((size.get("plan") or {}).get("identities") for size in sizes)
    where = (
        "in team namespaces, each in one subscription, the first `--identities` of them with an Azure "
        "identity of their own (wsconn-azure-credentials: an app registration allowed on that workspace "
        "only), the others on the operator's (the only ones WSCONN_OPERATOR_IDENTITY_NAMESPACES allows)"
        if teams
        else "in 3 namespaces"
    )
    return (
        f"- Workload: {what}, {where}; each connection has Secrets of its own; Secrets exist before "
        "the clock starts."
    )


def markdown(results: dict[str, Any], json_name: str) -> str:
    """The results as a markdown page: table, checks, machine, settings."""
    sizes: list[dict[str, Any]] = results["sizes"]
    lines = [
        f"# wsconn benchmark, {results['date']}",
        "",
        f"Command: `{results['command']}` ({results['wall_seconds']:.0f} s wall time). "
        f"Raw figures: [{json_name}]({json_name}). What each figure means: [bench/README.md](../README.md).",
        "",
    ]
    if sizes:
        headers, labels, cells = _columns(sizes)
        lines.append("| Figure | " + " | ".join(headers) + " |")
        lines.append("|---|" + "---:|" * len(headers))
        for label, row in zip(labels, cells, strict=True):
            lines.append(f"| {label} | " + " | ".join(row) + " |")
        lines += ["", "## Checks", ""]
        lines.append("| Check | " + " | ".join(column_name(s) for s in sizes) + " |")
        lines.append("|---|" + "---:|" * len(sizes))
        checks = list(dict.fromkeys(c for s in sizes for c in s.get("checks", {})))  # skipped phases: n/a
        for check in checks:
            lines.append(
                f"| {check} | " + " | ".join(_fmt(s.get("checks", {}).get(check)) for s in sizes) + " |"
            )
    aso_errors = [(size["n"], size["aso"]["error"]) for size in sizes if "error" in (size.get("aso") or {})]
    phase_errors = [(size["n"], size["error"]) for size in sizes if "error" in size]
    if results.get("errors") or aso_errors or phase_errors:
        lines += ["", "## Errors", ""]
        lines += [f"- N = {e['n']}: {e['error']}" for e in results.get("errors") or []]
        lines += [
            f"- N = {n}, after create (the figures above are those of the phases before): {error}"
            for n, error in phase_errors
        ]
        lines += [f"- ASO N = {n}: {error}" for n, error in aso_errors]
    m = results["machine"]
    lines += [
        "",
        "## Machine",
        "",
        f"- CPUs (`nproc`): {m['nproc']}; memory: {m['memory_gib']} GiB; CPU: {m['cpu_model']}",
        f"- Linux {m['kernel']}; Python {m['python']}; Kopf {m['kopf']}; operator {m['operator']}",
        f"- {m['kube_apiserver']}, {m['etcd']}, kube-controller-manager, on loopback; every "
        "component (etcd, API server, controller-manager, emulator, operator, the harness) shares these CPUs",
        "",
        "## Settings",
        "",
    ]
    s = results["settings"]
    lines += [
        f"- ARM emulator: latency uniform {s['latency'][0]}-{s['latency'][1]} s per call; ARM's buckets per "
        "subscription and principal (reads 250 at 25/s, writes 200 at 10/s, deletes 200 at 10/s); one "
        "workspace in each subscription (the first row says how many); a rate scale above 1 (third row) divides "
        "their refill rates, and the operator's, in create, restart and rotation, and the floor is computed at "
        "the scaled rate (bench/README.md).",
        _workload_line(sizes),
        "- Operator: `wsconn run` as the ServiceAccount of deploy/install.yaml (its ClusterRole), default "
        "settings (50 workers, 16 ARM requests in flight, client buckets of ARM's sizes following ARM's "
        "x-ms-ratelimit-remaining-* headers less 5 tokens), log level info.",
        "- Steady state runs in scaled time: drift interval 600 s / scale, ARM refill rates (emulator and "
        "operator) x scale, one hour = 3600 s / scale; so a scaled hour carries the requests of a real hour. "
        "Per-hour figures are per real hour.",
    ]
    if any("aso" in size for size in sizes):
        lines.append(ASO_SETTINGS)
        if any((size.get("plan") or {}).get("workload", "examples") != "apikey" for size in sizes):
            lines.append(
                "- **The workloads differ**: this operator ran every authType of examples/, ASO ApiKey only; "
                "figures that depend on the authType (Secret reads, rotations, request counts per resource) "
                "compare like for like only with `--workload apikey`."
            )
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"
