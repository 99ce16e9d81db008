"""Operator configuration: one frozen object built once at start from flags and environment variables.

Every setting has a flag and an environment variable (see docs/configuration.md, which a test keeps in step
with `OPTIONS`). Azure's own variables keep the names Azure Service Operator and azure-identity use.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Final

from wsconn.api import contract
from wsconn.arm.throttle import BucketSpec, Limits
from wsconn.core.identity import Allowlist
from wsconn.core.selectors import Selector, SelectorError, parse_selector

PUBLIC_ARM_ENDPOINT: Final = "https://management.azure.com"


@dataclass(frozen=True)
class Option:
    """One setting: its flag, environment variable and meaning; its default is the Settings field's."""

    name: str
    flag: str
    env: str
    help: str
    kind: type = str
    choices: tuple[str, ...] = ()


OPTIONS: Final = (
    Option(
        "namespaces",
        "--namespace",
        "WSCONN_NAMESPACES",
        "Namespaces to watch, comma-separated (flag repeatable); empty watches all namespaces.",
    ),
    Option(
        "default_api_version",
        "--default-api-version",
        "WSCONN_DEFAULT_API_VERSION",
        "ARM api-version for resources that set no spec.azureApiVersion.",
        choices=contract.API_VERSIONS,
    ),
    Option("workers", "--workers", "WSCONN_WORKERS", "Resources reconciled at the same time.", int),
    Option(
        "arm_concurrency",
        "--arm-concurrency",
        "WSCONN_ARM_CONCURRENCY",
        "ARM requests in flight at the same time.",
        int,
    ),
    Option(
        "arm_timeout",
        "--arm-timeout",
        "WSCONN_ARM_TIMEOUT",
        "Seconds one ARM request may take, connect to last byte (a total deadline, not an idle timeout).",
        float,
    ),
    Option(
        "pass_timeout",
        "--pass-timeout",
        "WSCONN_PASS_TIMEOUT",
        "Seconds one reconcile or delete pass may take once it runs, waits for ARM included; past it the "
        "resource is Reconciling (AzureUnavailable) and retried with backoff.",
        float,
    ),
    Option(
        "drift_interval",
        "--drift-interval",
        "WSCONN_DRIFT_INTERVAL",
        "Seconds between drift checks (GET) of a Ready connection, jittered by 10%; 0 disables them.",
        float,
    ),
    Option(
        "checked_time_interval",
        "--checked-time-interval",
        "WSCONN_CHECKED_TIME_INTERVAL",
        "Seconds between writes of a clean drift check's time to status.lastCheckedTime; between them the "
        "last check is kept in memory, so a resource at rest costs no Kubernetes writes. 0 writes every check.",
        float,
    ),
    Option(
        "deep_drift_check",
        "--deep-drift-check",
        "WSCONN_DEEP_DRIFT_CHECK",
        "Also compare credentials during drift checks (POST listsecrets; counts as an ARM write).",
        bool,
    ),
    Option(
        "missing_secret_grace",
        "--missing-secret-grace",
        "WSCONN_MISSING_SECRET_GRACE",
        "Seconds after a generation is first seen during which a missing Secret or key leaves the resource "
        "Reconciling (kstatus InProgress: GitOps tools keep waiting for it), not Stalled; 0 stalls at once.",
        float,
    ),
    Option(
        "arm_read_rate",
        "--arm-read-rate",
        "WSCONN_ARM_READ_RATE",
        "Client-side ARM reads per second per subscription (ARM: 25).",
        float,
    ),
    Option(
        "arm_read_burst",
        "--arm-read-burst",
        "WSCONN_ARM_READ_BURST",
        "Client-side ARM read burst per subscription (ARM: 250).",
        float,
    ),
    Option(
        "arm_write_rate",
        "--arm-write-rate",
        "WSCONN_ARM_WRITE_RATE",
        "Client-side ARM writes per second per subscription (ARM: 10).",
        float,
    ),
    Option(
        "arm_write_burst",
        "--arm-write-burst",
        "WSCONN_ARM_WRITE_BURST",
        "Client-side ARM write burst per subscription (ARM: 200).",
        float,
    ),
    Option(
        "arm_delete_rate",
        "--arm-delete-rate",
        "WSCONN_ARM_DELETE_RATE",
        "Client-side ARM deletes per second per subscription (ARM: 10).",
        float,
    ),
    Option(
        "arm_delete_burst",
        "--arm-delete-burst",
        "WSCONN_ARM_DELETE_BURST",
        "Client-side ARM delete burst per subscription (ARM: 200).",
        float,
    ),
    Option(
        "operator_identity_namespaces",
        "--operator-identity-namespaces",
        "WSCONN_OPERATOR_IDENTITY_NAMESPACES",
        "Namespaces whose resources may use the operator's own Azure identity when they name none "
        "(spec.azureCredentials, a wsconn-azure-credentials Secret), comma-separated; * means all, empty none.",
    ),
    Option(
        "secret_selector",
        "--secret-selector",
        "WSCONN_SECRET_SELECTOR",
        "Label selector a Secret must match to be used at all (credentials and Azure identities); a Secret "
        "that does not match is refused. Empty: any Secret of the resource's namespace.",
    ),
    Option("log_format", "--log-format", "WSCONN_LOG_FORMAT", "Log format.", choices=("text", "json")),
    Option(
        "log_level",
        "--log-level",
        "WSCONN_LOG_LEVEL",
        "Log level.",
        choices=("debug", "info", "warning", "error"),
    ),
    Option(
        "bind_address",
        "--bind-address",
        "WSCONN_BIND_ADDRESS",
        "Address the health and metrics endpoints listen on.",
    ),
    Option(
        "health_port",
        "--health-port",
        "WSCONN_HEALTH_PORT",
        "Port of /healthz (liveness and readiness probes); 0 disables.",
        int,
    ),
    Option(
        "metrics_port",
        "--metrics-port",
        "WSCONN_METRICS_PORT",
        "Port of the Prometheus /metrics endpoint; 0 disables.",
        int,
    ),
    Option(
        "peering",
        "--peering",
        "WSCONN_PEERING",
        "KopfPeering name for high availability (one active replica); empty runs standalone.",
    ),
    Option(
        "arm_endpoint",
        "--arm-endpoint",
        "AZURE_RESOURCE_MANAGER_ENDPOINT",
        "Azure Resource Manager endpoint (https only).",
    ),
    Option(
        "arm_audience",
        "--arm-audience",
        "AZURE_RESOURCE_MANAGER_AUDIENCE",
        "Token audience for ARM; empty means the endpoint. The scope requested is <audience>/.default.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The effective configuration."""

    namespaces: tuple[str, ...] = ()
    default_api_version: str = contract.DEFAULT_API_VERSION
    workers: int = 50
    arm_concurrency: int = 16
    arm_timeout: float = 30.0
    pass_timeout: float = 120.0
    drift_interval: float = 600.0
    checked_time_interval: float = 3600.0
    deep_drift_check: bool = False
    missing_secret_grace: float = 300.0
    arm_read_rate: float = 25.0
    arm_read_burst: float = 250.0
    arm_write_rate: float = 10.0
    arm_write_burst: float = 200.0
    arm_delete_rate: float = 10.0
    arm_delete_burst: float = 200.0
    log_format: str = "text"
    log_level: str = "info"
    bind_address: str = "0.0.0.0"  # noqa: S104
    health_port: int = 8081
    metrics_port: int = 8080
    shutdown_timeout: float = 20.0
    peering: str = ""
    arm_endpoint: str = PUBLIC_ARM_ENDPOINT
    arm_audience: str = ""
    operator_identity_namespaces: str = "*"
    secret_selector: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not self.arm_endpoint.startswith("https://"):
            problems.append(
                f"AZURE_RESOURCE_MANAGER_ENDPOINT must be an https:// URL, got {self.arm_endpoint!r}"
            )
        if self.default_api_version not in contract.API_VERSIONS:
            problems.append(f"default api-version must be one of {', '.join(contract.API_VERSIONS)}")
        for name in ("workers", "arm_concurrency"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        for name in ("arm_timeout", "pass_timeout"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        if self.drift_interval < 0:
            problems.append("drift interval must not be negative")
        if self.missing_secret_grace < 0:
            problems.append("missing-Secret grace must not be negative")
        try:
            parse_selector(self.secret_selector)
        except SelectorError as exc:
            problems.append(f"secret selector: {exc}")
        if self.checked_time_interval < 0:
            problems.append("checked-time interval must not be negative")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def scope(self) -> str:
        """The OAuth scope for ARM tokens."""
        return f"{(self.arm_audience or self.arm_endpoint).rstrip('/')}/.default"

    @property
    def limits(self) -> Limits:
        """Client-side token bucket sizes."""
        return Limits(
            read=BucketSpec(self.arm_read_burst, self.arm_read_rate),
            write=BucketSpec(self.arm_write_burst, self.arm_write_rate),
            delete=BucketSpec(self.arm_delete_burst, self.arm_delete_rate),
        )

    @property
    def allowlist(self) -> Allowlist:
        """Where the operator's own identity may be used."""
        return Allowlist.parse(self.operator_identity_namespaces)

    @property
    def selector(self) -> Selector | None:
        """The Secret label selector (None: no restriction)."""
        return parse_selector(self.secret_selector)

    def describe(self) -> dict[str, Any]:
        """The effective configuration for the start-up log: settings, and which Azure identity inputs are
        present (names only; a client secret or token is never shown)."""
        shown: dict[str, Any] = {o.name: getattr(self, o.name) for o in OPTIONS}
        shown["namespaces"] = list(self.namespaces) or "all"
        shown["arm_scope"] = self.scope
        shown["azure_authority_host"] = os.environ.get("AZURE_AUTHORITY_HOST", "(azure-identity default)")
        shown["azure_client_id"] = os.environ.get("AZURE_CLIENT_ID", "(unset)")
        shown["azure_tenant_id"] = os.environ.get("AZURE_TENANT_ID", "(unset)")
        shown["azure_credential_inputs"] = sorted(
            name
            for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE")
            if os.environ.get(name)
        )
        shown["ssl_cert_file"] = os.environ.get("SSL_CERT_FILE", "(system store)")
        return shown


def default_of(name: str) -> Any:
    """The default of a setting."""
    return next(f.default for f in dataclasses.fields(Settings) if f.name == name)
