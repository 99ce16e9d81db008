"""`bench/run [--sizes 100,1000] [--quick] [--out bench/results] ...`: run every size, write the results."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import report
from bench.phases import ARM_BUCKETS, PHASES, REAL_DRIFT_INTERVAL, SizePlan, run_size

REPO = Path(__file__).resolve().parents[1]
# The steady-state phase must not ask more of two shared cores than a real hour asks of ARM: the drift
# timer of N resources at interval 600/scale makes N*scale/600 checks per second, each a GET to ARM plus a
# Secret read and a status patch in Kubernetes. Around 35/s the operator, API server and etcd still keep up
# on 2 cores; above it the phase would measure CPU contention rather than the policy.
MAX_CHECKS_PER_SECOND = 35.0
SCALES = (100, 50, 25, 20, 10, 5, 2, 1)


def auto_scale(size: int) -> int:
    """The largest round time scale (at most 100) keeping drift checks at or below the limit above."""
    for scale in SCALES:
        if size * scale / REAL_DRIFT_INTERVAL <= MAX_CHECKS_PER_SECOND:
            return scale
    return 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--sizes", default="100,1000", help="comma-separated N values (default 100,1000)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: N=20, 12 rotations, x200 time scale (about 2 minutes)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="results directory")
    parser.add_argument(
        "--scale", type=int, default=0, help="time scale of steady state (default: per N, automatic)"
    )
    parser.add_argument("--rotations", type=int, default=60, help="Secret rotations per N (default 60)")
    parser.add_argument("--rotation-pace", type=float, default=0.5, help="seconds between rotations")
    parser.add_argument("--latency", default="0.1,0.3", help="ARM latency range in seconds (default 0.1,0.3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, audit log)")
    parser.add_argument(
        "--subscriptions",
        type=int,
        default=1,
        help="spread the N connections over this many subscriptions, one workspace each (default 1)",
    )
    parser.add_argument(
        "--second-client",
        type=float,
        default=0.0,
        help="writes per second another client of the operator's principal spends during create (default 0)",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"phases after create, comma-separated (default {','.join(PHASES)})",
    )
    parser.add_argument(
        "--steady-fraction",
        type=float,
        default=1.0,
        help="the part of a scaled hour counted in steady state (default 1; per-hour figures stay per hour)",
    )
    parser.add_argument(
        "--identities",
        type=int,
        default=0,
        help="K team namespaces with an Azure identity of their own (an app registration allowed on their "
        "subscription's workspace, as wsconn-azure-credentials); the workload then lives in max(K, "
        "subscriptions) team namespaces, namespace i in subscription i mod subscriptions (default 0: "
        "bench-a/b/c, the operator's identity)",
    )
    parser.add_argument(
        "--arm-rate-scale",
        type=float,
        default=1.0,
        help="divide ARM's refill rates (emulator and operator) by F in create, restart and rotation, so "
        "2 cores keep ARM's pace at large N; the floor is computed at the scaled rate (default 1)",
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=0.0,
        help="seconds without progress (resources Ready, or re-examined after a start) that fail a phase "
        "(default: 120, or 0.03 per resource when more)",
    )
    parser.add_argument(
        "--workload",
        choices=("examples", "apikey"),
        default="examples",
        help="this operator's workload: examples/ round-robin (12 authTypes, default) or ApiKey only, "
        "the workload Azure Service Operator runs with --with-aso",
    )
    parser.add_argument(
        "--with-aso",
        action="store_true",
        help="after this operator's phases, run Azure Service Operator v2.13.0 (cached binary, "
        "python -m bench.aso build) through the same phases against the same control plane and emulator",
    )
    parser.add_argument(
        "--aso-workers",
        type=int,
        default=1,
        help="ASO's MAX_CONCURRENT_RECONCILES (default 1: ASO's default and its chart's)",
    )
    parser.add_argument(
        "--aso-sync-period",
        type=float,
        default=3600.0,
        help="ASO's AZURE_SYNC_PERIOD in real seconds, scaled in its steady phase (default 3600: ASO's)",
    )
    return parser.parse_args(argv)


def plans(args: argparse.Namespace) -> list[SizePlan]:
    """One plan per N from the options."""
    low, high = (float(x) for x in args.latency.split(","))
    phases = tuple(p for p in args.phases.split(",") if p)
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phases: {', '.join(sorted(unknown))} (known: {', '.join(PHASES)})")
    if args.identities < 0 or args.subscriptions < 1 or args.arm_rate_scale <= 0:
        raise SystemExit("--identities must be >= 0, --subscriptions >= 1 and --arm-rate-scale > 0")
    if args.second_client >= ARM_BUCKETS["writes"][1] / args.arm_rate_scale:
        raise SystemExit(
            "--second-client must spend less than ARM's write rate (10/s divided by the rate scale)"
        )
    extra: dict[str, Any] = {
        "subscriptions": args.subscriptions,
        "second_client_rate": args.second_client,
        "phases": phases,
        "steady_fraction": args.steady_fraction,
        "workload": args.workload,
        "with_aso": args.with_aso,
        "aso_workers": args.aso_workers,
        "aso_sync_period": args.aso_sync_period,
        "identities": args.identities,
        "arm_rate_scale": args.arm_rate_scale,
        "stall_seconds": args.stall,
    }
    if args.quick:
        return [SizePlan(20, args.scale or 200, 12, 0.3, (low, high), **extra)]
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    return [
        SizePlan(
            n,
            args.scale or auto_scale(n),
            args.rotations,
            args.rotation_pace,
            (low, high),
            **extra,
        )
        for n in sizes
    ]


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    """Run every size in turn, write <date>.json and <date>.md, print where they are."""
    args = parse_args(argv)
    began = time.monotonic()
    # Ctrl-C and SIGTERM must unwind through the phases' `finally`, which stop the operator, the emulator
    # and the control plane; a background shell may have started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)

    def say(message: str) -> None:
        print(f"[bench {time.monotonic() - began:7.1f}s] {message}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="wsconn-bench-"))
    say(f"work directory {work}")
    today = dt.date.today().isoformat()
    results: dict[str, Any] = {
        "date": today,
        "command": "bench/run " + shlex.join(argv) if argv else "bench/run",
        "machine": report.machine(),
        "settings": {"latency": [float(x) for x in args.latency.split(",")]},
        "sizes": [],
        "errors": [],
    }
    failed = False
    for plan in plans(args):
        try:
            size = run_size(plan, REPO, work / f"n{plan.size}", say)
        except Exception as exc:  # one size failing must still leave the others' results
            traceback.print_exc()
            results["errors"].append({"n": plan.size, "error": f"{type(exc).__name__}: {exc}"})
            failed = True
            continue
        results["sizes"].append(size)
        failed = failed or "error" in size or not all(size["checks"].values())
        bad = [k for k, v in size["checks"].items() if not v]
        say(f"N={plan.size}: done in {size['wall_seconds']:.0f}s; checks failed: {bad or 'none'}")
        if "error" in size:
            say(f"N={plan.size}: stopped after create: {size['error']}")
        if size.get("interrupted"):
            break
    results["wall_seconds"] = round(time.monotonic() - began, 1)
    stem = f"{today}-quick" if args.quick else today
    json_path, md_path = report.write(results, args.out, stem)
    say(f"results: {json_path} and {md_path}")
    if args.keep or failed:
        say(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
