"""`wsconn-testbed`: the local test bed for people (the tests use the same pieces directly)."""

from __future__ import annotations

import argparse
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
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the sub-command."""
    args = parser().parse_args(argv)
    from wsconn_testbed import demo

    return demo.main(once=args.once, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
