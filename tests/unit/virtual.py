"""Virtual time for the shell's unit tests: looptime's event loop, on which sleeps, deadlines and timeouts take
virtual seconds (they pass as soon as nothing else can run), so no test waits real seconds."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import looptime

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Run `coro` to completion on an event loop with virtual time."""
    loop = looptime.new_event_loop(start=start)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
