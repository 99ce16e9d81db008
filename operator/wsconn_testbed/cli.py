"""`wsconn-testbed`: the local test bed for people (the tests use the same pieces directly).

wsconn-testbed demo [--once] [--keep]   control plane + emulator + operator + examples, until Ctrl-C
"""

from __future__ import annotations

import sys


def main() -> int:
    """Dispatch the sub-command."""
    args = sys.argv[1:]
    if not args or args[0] not in {"demo"}:
        print(__doc__, file=sys.stderr)
        return 2
    from wsconn_testbed import demo

    return demo.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
