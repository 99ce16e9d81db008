"""`wsconn-testbed`: the local test bed for people (the tests use the same pieces directly)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    """The command line: one sub-command, `demo`; unknown options are errors (exit status 2)."""
    top = argparse.ArgumentParser(
        prog="wsconn-testbed",
        description="The local test bed: a control plane, the Azure emulator, the operator.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="control plane + Azure emulator + operator + examples, until Ctrl-C",
        description="Start etcd, kube-apiserver and kube-controller-manager on loopback, the HTTPS Azure emulator "
        "and `wsconn run`; apply the CRD and examples/, wait until every WorkspaceConnection is Ready and print "
        "`kubectl get amlconn`; then keep running until Ctrl-C. Run it from the repository root.",
        epilog="example:\n  wsconn-testbed demo --once --keep   # exit when Ready; keep logs and kubeconfig",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--once",
        action="store_true",
        help="exit as soon as every example is Ready (status 0) or not (status 1)",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the work directory (kubeconfig, operator.log, emulator and control-plane logs) after exit; "
        "its path is printed",
    )
    app = commands.add_parser(
        "app",
        help="register an app in the running demo's Entra ID and print its credentials as an env file",
        description="Register an app registration in the Azure emulator a running `wsconn-testbed demo` "
        "started (what `az ad sp create-for-rbac` does against Azure), allowed only at the given ARM scopes, "
        "and print AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET as KEY=value lines, for "
        "`kubectl create secret generic --from-env-file`.",
        epilog="example:\n  wsconn-testbed app --scope /subscriptions/SUB/resourceGroups/rg-ml > team-a.env",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    app.add_argument(
        "--scope", action="append", required=True, help="an ARM scope the app may act at (repeatable)"
    )
    app.add_argument(
        "--emulator",
        default=os.environ.get("WSCONN_EMULATOR", ""),
        help="the emulator's ready file (default: $WSCONN_EMULATOR, which the demo prints)",
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the sub-command."""
    args = parser().parse_args(argv)
    if args.command == "app":
        return register_app(args.emulator, args.scope)
    from wsconn_testbed import demo

    return demo.main(once=args.once, keep=args.keep)


def register_app(ready_file: str, scopes: list[str]) -> int:
    """Register an app allowed at `scopes` and print its credentials (env-file lines) on stdout."""
    import json
    import uuid
    from pathlib import Path

    from wsconn_testbed.emulator.client import EmulatorClient

    if not ready_file or not Path(ready_file).is_file():
        print("no emulator: pass --emulator or set WSCONN_EMULATOR (the demo prints it)", file=sys.stderr)
        return 2
    emulator = EmulatorClient(json.loads(Path(ready_file).read_text()))
    registered = emulator.admin("POST", "clients", {"client_id": str(uuid.uuid4()), "scopes": scopes})
    print(f"AZURE_TENANT_ID={registered['tenant_id']}")
    print(f"AZURE_CLIENT_ID={registered['client_id']}")
    print(f"AZURE_CLIENT_SECRET={registered['secret']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
