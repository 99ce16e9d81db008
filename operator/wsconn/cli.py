"""The `wsconn` command: `wsconn run` runs the operator; `wsconn crd` prints the CRD it serves."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click
import kopf

from wsconn import handlers
from wsconn.logs import install_context_filter
from wsconn.settings import OPTIONS, Settings, default_of

log = logging.getLogger("wsconn")

# Loggers that could print a credential or a Secret at DEBUG (the Kubernetes client logs whole response
# bodies, Secret data included; the Azure SDK and MSAL log token traffic) or that log every request or
# handler call (Kopf's per-object chatter: the operator logs what matters itself) stay at these floors.
_QUIET_LOGGERS = {
    "kopf.objects": logging.WARNING,
    "azure.core.pipeline.policies.http_logging_policy": logging.WARNING,
    "kubernetes": logging.WARNING,
    "urllib3": logging.INFO,
    "azure": logging.WARNING,
    "msal": logging.WARNING,
    "httpcore": logging.INFO,
    "hpack": logging.INFO,
    "httpx": logging.WARNING,
}


def _options(command: Any) -> Any:
    for option in reversed(OPTIONS):
        if option.name == "namespaces":
            command = click.option(
                option.flag, "-n", "namespaces", multiple=True, help=option.help + f" Env: {option.env}."
            )(command)
            continue
        default = default_of(option.name)
        kind: Any = click.Choice(option.choices) if option.choices else option.kind
        if option.kind is bool:
            command = click.option(
                f"{option.flag}/--no-{option.flag[2:]}",
                option.name,
                default=default,
                envvar=option.env,
                show_default=True,
                help=option.help,
            )(command)
            continue
        command = click.option(
            option.flag,
            option.name,
            type=kind,
            default=default,
            envvar=option.env,
            show_default=True,
            show_envvar=True,
            help=option.help,
        )(command)
    return command


@click.group()
def main() -> None:
    """Azure ML workspace connection operator."""


@main.command()
def crd() -> None:
    """Print the WorkspaceConnection CRD (YAML)."""
    from wsconn.api.crd import render_yaml

    click.echo(render_yaml(), nl=False)


@main.command()
@_options
def run(namespaces: tuple[str, ...], **values: Any) -> None:
    """Run the operator until SIGTERM/SIGINT."""
    import os

    raw = list(namespaces) or [os.environ.get("WSCONN_NAMESPACES", "")]
    watched = tuple(sorted({n.strip() for item in raw for n in item.split(",") if n.strip()}))
    try:
        cfg = Settings(namespaces=watched, **values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _configure_logging(cfg)
    log.info("effective configuration: %s", json.dumps(cfg.describe(), sort_keys=True, default=str))
    from wsconn.runtime import build

    registry = kopf.OperatorRegistry()
    handlers.register(registry, cfg, lambda settings, memo: build(cfg, settings, memo))
    liveness = f"http://{cfg.bind_address}:{cfg.health_port}/healthz" if cfg.health_port else None
    kopf.run(
        registry=registry,
        clusterwide=not watched,
        namespaces=watched,
        standalone=not cfg.peering,
        peering_name=cfg.peering or None,
        liveness_endpoint=liveness,
        memo=kopf.Memo(),
    )


def _configure_logging(cfg: Settings) -> None:
    fmt = kopf.LogFormat.JSON if cfg.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(debug=cfg.log_level == "debug", log_format=fmt, log_refkey="object")
    level = getattr(logging, cfg.log_level.upper())
    logging.getLogger().setLevel(level)
    for name, floor in _QUIET_LOGGERS.items():
        chatter_only = name == "kopf.objects" and level == logging.DEBUG
        logging.getLogger(name).setLevel(level if chatter_only else max(level, floor))
    logging.captureWarnings(True)
    install_context_filter()


if __name__ == "__main__":
    sys.exit(main())
