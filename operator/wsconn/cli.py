"""The `wsconn` command: `run` runs the operator, `crd` prints the CRD it serves, and the tools for people who
write and review manifests (`validate`, `plan`, `import`, `convert`, `schema`; see docs/tools.md)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import click

from wsconn.api import contract
from wsconn.logs import install_context_filter
from wsconn.settings import OPTIONS, Option, Settings, default_of

log = logging.getLogger("wsconn")
DISTRIBUTION: Final = "azureml-wsconn-operator"

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


def _options(*names: str) -> Callable[[Any], Any]:
    """The operator's settings as click options (all of them, or those named), with their env variables."""

    def decorate(command: Any) -> Any:
        return _add_options(command, [o for o in OPTIONS if not names or o.name in names])

    return decorate


def _add_options(command: Any, options: Sequence[Option]) -> Any:
    for option in reversed(options):
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


def _empty_env_means_empty(values: dict[str, Any], name: str) -> None:
    """Click reads an empty environment variable as unset; for a setting where empty means "none" (the
    operator identity's allowlist) an empty variable must win over the default."""
    import os

    option = next(o for o in OPTIONS if o.name == name)
    source = click.get_current_context().get_parameter_source(name)
    if source is click.core.ParameterSource.DEFAULT and os.environ.get(option.env) == "":
        values[name] = ""


CONTEXT: Final = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
OUTPUTS: Final = click.Choice(["text", "json"])


def _workspace(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from wsconn.tools.manifests import workspace_ref

    if value is None:
        return None
    try:
        return workspace_ref(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


WORKSPACE = click.option(
    "--workspace",
    "-w",
    required=True,
    callback=_workspace,
    metavar="SUB/RG/NAME",
    help="The Azure ML workspace: subscription ID, resource group and name, or its ARM ID.",
)
NAMESPACE = click.option(
    "--namespace", "-n", help="metadata.namespace of the manifests written (default: none)."
)


def _output_dir(text: str) -> Callable[[Any], Any]:
    return click.option("--output-dir", "-d", type=click.Path(file_okay=False, path_type=Path), help=text)


DEFAULT_API_VERSION = click.option(
    "--default-api-version",
    type=click.Choice(contract.API_VERSIONS),
    default=default_of("default_api_version"),
    show_default=True,
    help="The operator's default ARM api-version, for resources that set no spec.azureApiVersion.",
)


@click.group(context_settings=CONTEXT)
@click.version_option(package_name=DISTRIBUTION, prog_name="wsconn", message="%(prog)s %(version)s")
def main() -> None:
    """Azure ML workspace connection operator, and tools for the manifests it serves.

    \b
    Example:
      wsconn validate manifests/          # what kubectl apply or the operator would refuse
    """


@main.command()
def crd() -> None:
    """Print the WorkspaceConnection CRD (YAML).

    \b
    Example:
      wsconn crd | kubectl apply --server-side -f -
    """
    from wsconn.api.crd import render_yaml

    click.echo(render_yaml(), nl=False)


@main.command()
@_options()
def run(namespaces: tuple[str, ...], **values: Any) -> None:
    """Run the operator until SIGTERM/SIGINT.

    \b
    Example:
      wsconn run --namespace ml-team --log-format json
    """
    import os

    raw = list(namespaces) or [os.environ.get("WSCONN_NAMESPACES", "")]
    watched = tuple(sorted({n.strip() for item in raw for n in item.split(",") if n.strip()}))
    _empty_env_means_empty(values, "operator_identity_namespaces")
    try:
        cfg = Settings(namespaces=watched, **values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _configure_logging(cfg)
    log.info("effective configuration: %s", json.dumps(cfg.describe(), sort_keys=True, default=str))
    import kopf

    from wsconn import handlers
    from wsconn.runtime import build

    registry = kopf.OperatorRegistry()
    serving = handlers.register(registry, cfg, lambda settings, memo: build(cfg, settings, memo))
    liveness = f"http://{cfg.bind_address}:{cfg.health_port}/healthz" if cfg.health_port else None
    kopf.run(
        registry=registry,
        clusterwide=not watched,
        namespaces=watched,
        standalone=not cfg.peering,
        peering_name=cfg.peering or None,
        liveness_endpoint=liveness,
        memo=handlers.SharedMemo(),
        insights=serving.insights,
    )


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--output", "-o", type=OUTPUTS, default="text", show_default=True, help="Report format.")
@DEFAULT_API_VERSION
def validate(paths: tuple[str, ...], output: str, default_api_version: str) -> None:
    """Check WorkspaceConnection manifests offline, as kubectl apply and the operator would.

    PATH is a file, a directory (searched recursively for *.yaml, *.yml and *.json) or - for stdin.
    Multi-document YAML is read whole; other kinds are ignored, except Secrets, whose keys are checked
    against the secretKeyRefs that name them. One line per problem, `file:document-index: field: message`
    (the index counts from 0, as yq's document_index). Exit status 0 when all are valid, 1 otherwise.

    \b
    Examples:
      wsconn validate manifests/
      helm template my-release chart/ | wsconn validate -
      wsconn validate --output json manifests/ > report.json
    """
    from wsconn.tools.manifests import read_documents
    from wsconn.tools.validate import render
    from wsconn.tools.validate import validate as check

    documents, errors = read_documents(paths)
    report = check(documents, errors, default_api_version=default_api_version)
    click.echo(render(report, output), nl=False)
    sys.exit(1 if report.problems else 0)


@main.command()
@click.option(
    "--api-version",
    type=click.Choice(contract.API_VERSIONS),
    help="Narrow the schema to manifests on this ARM api-version (its categories only).",
)
def schema(api_version: str | None) -> None:
    """Print a JSON Schema (draft-07) of WorkspaceConnection manifests, for kubeconform and editors.

    Generated from the same source as the CRD, strict about unknown fields, with the CRD's credential and
    category rules expressed as if/then blocks. Only the immutability rules (which need the stored object)
    are left to the API server.

    \b
    Examples:
      wsconn schema > schemas/workspaceconnection_v1alpha1.json
      kubeconform -strict -schema-location default \\
        -schema-location 'schemas/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json' manifests/
      wsconn schema --api-version 2024-04-01 > schemas/workspaceconnection_v1alpha1.json
    """
    from wsconn.tools.schema import json_schema

    click.echo(json.dumps(json_schema(api_version), indent=2))


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="FILE...")
@WORKSPACE
@NAMESPACE
@_output_dir(
    "Write one file per connection there, and the Secrets with their values under secrets/ (mode 0600). "
    "Without it, the manifests go to stdout with empty Secret values."
)
@DEFAULT_API_VERSION
def convert(
    paths: tuple[str, ...],
    workspace: Any,
    namespace: str | None,
    output_dir: Path | None,
    default_api_version: str,
) -> None:
    """Convert Azure ML CLI v2 connection YAML (az ml connection create --file) to manifests.

    Each file becomes a WorkspaceConnection and, when it holds credentials, a Secret the connection
    references. Every type of azure-ai-ml's connection schema that maps to a category and authType is
    converted; anything else is refused, naming the type or key. The result passes `wsconn validate`.
    Exit status 0 when every file converted, 1 otherwise.

    \b
    Examples:
      wsconn convert -w 0000-.../rg-ml/ws-prod openai.yml
      wsconn convert -w 0000-.../rg-ml/ws-prod -n ml-team -d manifests/ connections/*.yml
    """
    from wsconn.tools.convert import convert_files

    code = convert_files(
        paths,
        workspace=workspace,
        namespace=namespace,
        output_dir=output_dir,
        default_api_version=default_api_version,
        echo=lambda text: click.echo(text, nl=not text.endswith("\n")),
        warn=lambda text: click.echo(f"wsconn convert: {text}", err=True),
    )
    sys.exit(code)


def _azure_settings(arm_endpoint: str, arm_audience: str, arm_timeout: float) -> Settings:
    try:
        return Settings(arm_endpoint=arm_endpoint, arm_audience=arm_audience, arm_timeout=arm_timeout)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--output", "-o", type=OUTPUTS, default="text", show_default=True, help="Report format.")
@DEFAULT_API_VERSION
@_options("arm_endpoint", "arm_audience", "arm_timeout", "operator_identity_namespaces", "secret_selector")
def plan(
    *,
    paths: tuple[str, ...],
    output: str,
    default_api_version: str,
    **values: Any,
) -> None:
    """Show what applying the manifests would change in Azure, without changing anything.

    For each WorkspaceConnection, GETs the connection with the identity the operator would use (a credential
    Secret in the input named by spec.azureCredentials, else the namespace's wsconn-azure-credentials Secret in
    the input, else the operator's own where --operator-identity-namespaces allows it) and prints
    create, update (the fields that differ, never values), no change, conflict (another resource in the
    input names the same connection) or cannot tell (with the reason). Credentials are not compared: ARM
    never returns them. PATH is as for validate. Exit status 0 when nothing would change, 2 when something
    would, 1 when something could not be told.

    \b
    Examples:
      wsconn plan manifests/
      wsconn plan --output json manifests/ > plan.json
    """
    import asyncio

    from wsconn.tools import plan as planner
    from wsconn.tools.manifests import read_documents

    _empty_env_means_empty(values, "operator_identity_namespaces")
    try:
        settings = Settings(**values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    documents, errors = read_documents(paths)
    entries = asyncio.run(
        planner.plan(
            documents,
            errors,
            default_api_version=default_api_version,
            resolve=planner.declared_identities(settings, documents),
            settings=settings,
        )
    )
    click.echo(planner.render(entries, output), nl=False)
    sys.exit(planner.exit_code(entries))


@main.command("import")
@WORKSPACE
@NAMESPACE
@_output_dir(
    "Write one file per connection there, Secret stubs under secrets/ and NOT-IMPORTED.txt. "
    "Without it, the manifests go to stdout."
)
@click.option(
    "--with-secret-values",
    is_flag=True,
    help="Also read the credentials (POST listsecrets, an ARM write action) into the Secrets, written only to "
    "files of mode 0600 under --output-dir.",
)
@click.option(
    "--api-version",
    type=click.Choice(contract.API_VERSIONS),
    default=default_of("default_api_version"),
    show_default=True,
    help="ARM api-version to read with (the operator's default api-version by default).",
)
@_options("arm_endpoint", "arm_audience", "arm_timeout")
def import_(
    *,
    workspace: Any,
    namespace: str | None,
    output_dir: Path | None,
    with_secret_values: bool,
    api_version: str,
    arm_endpoint: str,
    arm_audience: str,
    arm_timeout: float,
) -> None:
    """Write the connections a workspace already has as WorkspaceConnection manifests.

    One manifest per connection, and a Secret stub per connection with credentials (key names, empty values,
    a comment saying which field each feeds): ARM never returns credentials on GET. Azure is read with the
    operator's identity (DefaultAzureCredential from the environment). What the operator cannot express is
    listed, not dropped. Exit status 0 when every connection was imported, 2 when some were not (listed),
    1 on errors.

    \b
    Examples:
      wsconn import -w 0000-.../rg-ml/ws-prod -n ml-team -d manifests/
      wsconn import -w 0000-.../rg-ml/ws-prod -d manifests/ --with-secret-values
    """
    import asyncio

    from wsconn.tools import importer

    if with_secret_values and output_dir is None:
        raise click.UsageError(
            "--with-secret-values needs --output-dir: credential values are written only to files"
        )
    settings = _azure_settings(arm_endpoint, arm_audience, arm_timeout)
    try:
        fetched = asyncio.run(
            importer.fetch(settings, workspace, api_version, with_secret_values=with_secret_values)
        )
    except Exception as exc:  # an ARM or identity failure: one line, no traceback
        click.echo(f"wsconn import: reading {workspace.name} failed: {exc}", err=True)
        sys.exit(1)
    results = [
        importer.to_manifests(
            r, workspace=workspace, namespace=namespace, api_version=api_version, credentials=c
        )
        for r, c in fetched
    ]
    code = importer.write(
        results,
        output_dir=output_dir,
        echo=lambda text: click.echo(text, nl=not text.endswith("\n")),
        warn=lambda text: click.echo(f"wsconn import: {text}", err=True),
    )
    sys.exit(code)


def _configure_logging(cfg: Settings) -> None:
    import kopf

    fmt = kopf.LogFormat.JSON if cfg.log_format == "json" else kopf.LogFormat.FULL
    # log_prefix=None: Kopf prefixes text records with the object's `[namespace/name]`; JSON names it under
    # the `object` key instead.
    kopf.configure(debug=cfg.log_level == "debug", log_format=fmt, log_prefix=None, log_refkey="object")
    level = getattr(logging, cfg.log_level.upper())
    logging.getLogger().setLevel(level)
    for name, floor in _QUIET_LOGGERS.items():
        chatter_only = name == "kopf.objects" and level == logging.DEBUG
        logging.getLogger(name).setLevel(level if chatter_only else max(level, floor))
    logging.captureWarnings(True)
    install_context_filter()


if __name__ == "__main__":
    sys.exit(main())
