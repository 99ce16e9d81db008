"""Azure Service Operator v2 (ASO) v2.13.0, built from Go modules into the cache, for `bench/run --with-aso`.

How (measured once on this kind of machine; recipe kept in bench/README.md, "Azure Service Operator beside
it"): the Go module proxy serves v2.13.0 but no version list for the module, so `go install ...@v2.13.0`
fails; a wrapper module that requires ASO and copies ASO's own `require` blocks and go.sum (plus ASO's own
two go.sum lines from `go mod download -json`) builds `cmd/controller` with `GOTOOLCHAIN=local`. A cold
build takes about 20-25 minutes on 2 cores and makes a 265 MB binary; it is cached and never built in CI.

`python -m bench.aso build` builds it (or prints the cached path); `python -m bench.aso path` prints the
path if it is built and exits 1 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ASO_MODULE = "github.com/Azure/azure-service-operator/v2"
ASO_VERSION = "v2.13.0"
CACHE = Path(os.environ.get("WSCONN_CACHE", Path.home() / ".cache" / "wsconn")) / "aso"
BINARY = CACHE / f"aso-controller-{ASO_VERSION}"
# One package at a time: the machine's two cores are shared, and a build with -p 2 starves everything else.
BUILD_PARALLELISM = os.environ.get("WSCONN_ASO_BUILD_P", "1")


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}


def _require_blocks(go_mod: str) -> list[str]:
    """Every `require` line of ASO's go.mod, single or in blocks, as `path version` strings."""
    lines: list[str] = []
    in_block = False
    for raw in go_mod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block:
            if line == ")":
                in_block = False
            elif line:
                lines.append(line)
        elif line == "require (":
            in_block = True
        elif line.startswith("require "):
            lines.append(line.removeprefix("require ").strip())
    return lines


def write_wrapper(directory: Path) -> None:
    """The wrapper module: requires ASO and everything ASO requires, with ASO's go.sum."""
    info = json.loads(
        subprocess.run(
            ["go", "mod", "download", "-json", f"{ASO_MODULE}@{ASO_VERSION}"],
            check=True,
            capture_output=True,
            text=True,
            env=_go_env(),
        ).stdout
    )
    aso_dir = Path(info["Dir"])
    go_mod = (aso_dir / "go.mod").read_text()
    go_directive = re.search(r"^go (\S+)$", go_mod, re.MULTILINE)
    requires = _require_blocks(go_mod)
    directory.mkdir(parents=True, exist_ok=True)
    body = "\n".join(f"\t{r}" for r in [f"{ASO_MODULE} {ASO_VERSION}", *requires])
    (directory / "go.mod").write_text(
        f"module wsconn.local/aso-build\n\ngo {go_directive.group(1) if go_directive else '1.23'}\n\n"
        f"require (\n{body}\n)\n"
    )
    go_sum = (aso_dir / "go.sum").read_text()
    own = f"{ASO_MODULE} {ASO_VERSION} {info['Sum']}\n{ASO_MODULE} {ASO_VERSION}/go.mod {info['GoModSum']}\n"
    (directory / "go.sum").write_text(own + go_sum)


def build() -> Path:
    """Build the controller into the cache unless it is there; return its path."""
    if BINARY.exists():
        return BINARY
    work = CACHE / "wrapper"
    write_wrapper(work)
    partial = BINARY.parent / f"{BINARY.name}.partial"
    subprocess.run(
        [
            "go",
            "build",
            "-mod=mod",
            "-p",
            BUILD_PARALLELISM,
            "-o",
            str(partial),
            f"{ASO_MODULE}/cmd/controller",
        ],
        check=True,
        cwd=work,
        env=_go_env(),
    )
    partial.rename(BINARY)
    return BINARY


def main(argv: list[str]) -> int:
    """`build` or `path`."""
    command = argv[0] if argv else "build"
    if command == "path":
        if not BINARY.exists():
            print(f"not built: {BINARY} (run python -m bench.aso build)", file=sys.stderr)
            return 1
        print(BINARY)
        return 0
    if command == "build":
        print(build())
        return 0
    print("usage: python -m bench.aso [build|path]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
