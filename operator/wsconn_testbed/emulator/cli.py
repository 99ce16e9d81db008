"""`wsconn-emulator`: run the Azure emulator as a process (the demo, the e2e tests, the benchmarks).

It listens on 127.0.0.1 only, writes its certificates into `--state-dir`, and announces itself in
`--ready-file` (JSON, written atomically once the port accepts connections): the ARM endpoint, the
authority host, the audience, the tenant, client ids with their secrets, the CA and trust bundle, and the
admin token. It never prints a secret to stdout; SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import tempfile
from pathlib import Path

from aiohttp import web

from wsconn_testbed.emulator.server import Emulator, EmulatorConfig

log = logging.getLogger("wsconn.emulator")


def _write_atomically(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ready-")
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


async def serve(config: EmulatorConfig, state_dir: Path, port: int, ready_file: Path | None) -> None:
    """Run until SIGTERM/SIGINT."""
    emulator = Emulator(config, state_dir)
    context, ca_file, bundle = emulator.tls()
    runner = web.AppRunner(emulator.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=context, backlog=1024)
    await site.start()
    server = site._server
    assert server is not None
    bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    emulator.authority = emulator.entra.authority = f"https://127.0.0.1:{bound}"
    info = emulator.info(bound, ca_file, bundle)
    if ready_file is not None:
        _write_atomically(ready_file, json.dumps(info, indent=2))
    log.info("Azure emulator listening on %s (state in %s)", emulator.authority, state_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    parser = argparse.ArgumentParser(prog="wsconn-emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--state-dir", type=Path, required=True, help="directory for certificates")
    parser.add_argument("--ready-file", type=Path, help="where to write the ready JSON")
    parser.add_argument("--config", type=Path, help="JSON config (tenant, clients, workspaces, throttle)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    config = EmulatorConfig.load(args.config)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(config, args.state_dir, args.port, args.ready_file))
    return 0
