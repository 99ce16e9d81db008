"""The pure parts of `bench/run --with-aso`: the stand-in CRD, the ASO objects, readiness, the discovery
proxy's filtering (and the proxy itself on loopback), the steady-state arithmetic and the report's columns."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.aso_phases import aso_checks, aso_scale, sync_intervals
from bench.aso_proxy import DiscoveryProxy, connect_allowed, upstream_path, write_certificates
from bench.aso_workload import aso_connection, aso_ready, stand_in_crd
from bench.phases import NAMESPACES, workload_examples
from bench.report import _aso_rows, _rows, markdown
from bench.workload import Workspace, build

from wsconn_testbed.pki import create_authority

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = Workspace("00000000-0000-0000-0000-000000000001", "rg-aso", "ws-aso")


def test_the_stand_in_crd_is_found_by_aso_and_stores_its_hub_version() -> None:
    crd = stand_in_crd()
    assert crd["metadata"]["name"] == "workspacesconnections.machinelearningservices.azure.com"
    assert crd["metadata"]["labels"] == {"app.kubernetes.io/name": "azure-service-operator"}
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert set(versions) == {"v1api20240401", "v1api20240401storage"}
    assert versions["v1api20240401"]["served"]
    assert not versions["v1api20240401"]["storage"]
    assert versions["v1api20240401storage"]["served"]
    assert versions["v1api20240401storage"]["storage"]
    for version in versions.values():
        assert version["subresources"] == {"status": {}}
        assert version["schema"]["openAPIV3Schema"]["x-kubernetes-preserve-unknown-fields"] is True


def test_an_aso_object_carries_what_its_webhook_would_set_and_the_secret_reference() -> None:
    [item] = build(workload_examples(REPO, "apikey"), 1, ["aso-a"], [WORKSPACE], "run1")
    obj = aso_connection(item, WORKSPACE.id)
    assert obj["apiVersion"] == "machinelearningservices.azure.com/v1api20240401"
    assert obj["kind"] == "WorkspacesConnection"
    assert obj["metadata"] == {
        "name": item.name,
        "namespace": "aso-a",
        "labels": {"bench.wsconn.dev/run": "run1"},
    }
    spec = obj["spec"]
    assert spec["azureName"] == item.name
    assert spec["originalVersion"] == "v1api20240401"
    assert spec["owner"] == {"armId": WORKSPACE.id}
    props = spec["properties"]["apiKey"]
    assert props["authType"] == "ApiKey"
    assert props["category"] == "AzureOpenAI"
    assert props["target"] == "https://contoso.openai.azure.com/"
    assert props["isSharedToAll"] is True
    secret = item.secrets[0]["metadata"]["name"]
    assert props["credentials"] == {"key": {"name": secret, "key": "api-key"}}


def test_an_auth_type_without_an_aso_mapping_is_refused() -> None:
    items = build(workload_examples(REPO, "examples"), 12, NAMESPACES, [WORKSPACE], "run1")
    other = next(i for i in items if i.auth_type != "ApiKey")
    with pytest.raises(ValueError, match="no ASO mapping"):
        aso_connection(other, WORKSPACE.id)


def test_the_apikey_workload_is_apikey_only_and_examples_has_every_auth_type() -> None:
    apikey = build(workload_examples(REPO, "apikey"), 6, NAMESPACES, [WORKSPACE], "r")
    assert {i.auth_type for i in apikey} == {"ApiKey"}
    assert {i.namespace for i in apikey} == set(NAMESPACES)
    assert (
        len(
            {
                i.auth_type
                for i in build(workload_examples(REPO, "examples"), 12, NAMESPACES, [WORKSPACE], "r")
            }
        )
        == 12
    )
    with pytest.raises(ValueError, match="unknown workload"):
        workload_examples(REPO, "other")


@pytest.mark.parametrize(
    ("generation", "conditions", "ready"),
    [
        (2, [{"type": "Ready", "status": "True", "observedGeneration": 2}], True),
        (2, [{"type": "Ready", "status": "True", "observedGeneration": 1}], False),
        (1, [{"type": "Ready", "status": "False", "observedGeneration": 1}], False),
        (1, [], False),
    ],
)
def test_aso_is_ready_when_its_ready_condition_is_true_for_the_generation(
    generation: int, conditions: list[dict[str, Any]], ready: bool
) -> None:
    obj = {"metadata": {"generation": generation}, "status": {"conditions": conditions}}
    assert aso_ready(obj) is ready


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("login.microsoftonline.com:443", True),
        ("LOGIN.microsoftonline.com:443", True),
        ("login.microsoftonline.com:80", False),
        ("management.azure.com:443", False),
        ("login.microsoftonline.com.evil.example:443", False),
        ("127.0.0.1:443", False),
    ],
)
def test_the_proxy_tunnels_to_entras_discovery_host_only(target: str, allowed: bool) -> None:
    assert connect_allowed(target) is allowed


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        (
            "/common/discovery/instance?api-version=1.1&authorization_endpoint=x",
            "/common/discovery/instance?api-version=1.1&authorization_endpoint=x",
        ),
        ("/common/discovery/instance", "/common/discovery/instance"),
        ("/common/oauth2/v2.0/token", None),
        ("/common/discovery/instance/../keys", None),
        ("/", None),
    ],
)
def test_the_proxy_forwards_instance_discovery_only(path: str, upstream: str | None) -> None:
    assert upstream_path(path) == upstream


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback standing for the emulator: it echoes the path it was asked for."""
    authority = create_authority(tmp_path / "ca")
    leaf = authority.issue(tmp_path / "ca", "upstream")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(leaf.cert, leaf.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", authority.cert
    finally:
        server.shutdown()
        server.server_close()


def test_the_proxy_answers_discovery_from_the_emulator_and_refuses_the_rest(
    tmp_path: Path, upstream: tuple[str, Path]
) -> None:
    certificates = write_certificates(tmp_path / "proxy")
    assert (certificates.leaf_key.stat().st_mode & 0o777) == 0o600
    proxy = DiscoveryProxy(certificates, upstream[0], str(upstream[1])).start()
    try:
        verify = ssl.create_default_context(cafile=str(certificates.ca_cert))
        with httpx.Client(proxy=proxy.url, verify=verify, timeout=10) as client:
            answer = client.get("https://login.microsoftonline.com/common/discovery/instance?api-version=1.1")
            assert answer.status_code == 200
            assert answer.json() == {"path": "/common/discovery/instance?api-version=1.1"}
            assert client.get("https://login.microsoftonline.com/common/oauth2/v2.0/token").status_code == 404
            with pytest.raises(httpx.ProxyError):
                client.get("https://management.azure.com/subscriptions")
        assert proxy.forwarded == 1
        assert proxy.connects.get("management.azure.com:443") == 1
    finally:
        proxy.stop()


def test_the_steady_scale_keeps_asos_syncs_within_its_workers_pace() -> None:
    assert aso_scale(20, 3600, 1) == 100  # 20 x 100 / 3600 = 0.56 syncs/s
    assert aso_scale(100, 3600, 1) == 25  # 100 x 25 / 3600 = 0.69; x50 would be 1.39
    assert aso_scale(1000, 3600, 1) == 2
    assert aso_scale(1000, 3600, 16) == 50
    assert aso_scale(1000, 600, 1) == 1


def test_sync_intervals_are_between_successful_requests_to_the_same_connection() -> None:
    def entry(method: str, path: str, second: int, status: int = 200) -> dict[str, Any]:
        return {"method": method, "path": path, "status": status, "time": f"2026-12-02T10:00:{second:02d}Z"}

    entries = [
        entry("PUT", "/c/a", 0),
        entry("PUT", "/c/b", 1),
        entry("GET", "/c/a", 2),
        entry("PUT", "/C/A", 10),  # ARM paths are case-insensitive
        entry("PUT", "/c/b", 5, status=429),
        entry("PUT", "/c/b", 13),
        entry("PUT", "/c/a", 30),
    ]
    assert sorted(sync_intervals(entries, "PUT")) == [10.0, 12.0, 20.0]
    assert sync_intervals(entries, "GET") == []


def test_aso_checks_name_what_its_figures_need() -> None:
    aso = {
        "create": {"all_ready": True, "connections_in_arm": 20},
        "rotation": {"observed": 11, "rotations": 12},
        "processes": {"1-create": {"exit_code": 0}},
    }
    assert aso_checks(aso, 20) == {
        "aso_completed": True,
        "aso_all_ready": True,
        "aso_connections_in_arm_equal_n": True,
        "aso_processes_exit_zero": True,
        "aso_rotations_all_observed": False,
    }
    failed = aso_checks({"error": "RuntimeError: ASO exited with 1"}, 20)
    assert failed["aso_completed"] is False
    assert failed["aso_all_ready"] is False


def _results(with_aso: bool) -> dict[str, Any]:
    size: dict[str, Any] = {
        "n": 100,
        "plan": {"subscriptions": 1, "workload": "apikey" if with_aso else "examples"},
        "create": {"time_to_all_ready_seconds": 3.3, "arm": {"writes": 100, "reads": 0}},
        "checks": {"all_ready": True},
    }
    if with_aso:
        size["aso"] = {
            "workers": 1,
            "sync_period_seconds": 3600.0,
            "create": {"time_to_all_ready_seconds": 46.8, "arm": {"writes": 100, "reads": 100}},
            "steady": {"arm_writes_per_resource_hour": 0.98, "scale": 25},
            "processes": {"1-create": {"peak_rss_mib": 133.0}},
        }
        size["checks"]["aso_all_ready"] = True
    return {
        "date": "2026-12-02",
        "command": "bench/run",
        "wall_seconds": 1.0,
        "machine": {
            "nproc": "2",
            "memory_gib": 24,
            "cpu_model": "x",
            "kernel": "k",
            "python": "3.11",
            "kopf": "1",
            "operator": "0",
            "kube_apiserver": "kube-apiserver v1",
            "etcd": "etcd 3",
        },
        "settings": {"latency": [0.1, 0.3]},
        "sizes": [size],
        "errors": [],
    }


def _table_row(page: str, label_start: str) -> list[str]:
    line = next(line for line in page.splitlines() if line.startswith(f"| {label_start}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_report_puts_aso_in_a_column_beside_ours_for_the_same_n() -> None:
    page = markdown(_results(with_aso=True), "x.json")
    assert _table_row(page, "Figure") == ["Figure", "N = 100", "ASO N = 100"]
    assert _table_row(page, "**Create** N")[1:] == ["3.3", "46.8"]
    assert _table_row(page, "ARM reads during create")[1:] == ["0", "100"]
    assert _table_row(page, "Check")[1:] == ["N = 100"]  # ASO's checks are rows of the same N
    assert _table_row(page, "aso_all_ready")[1:] == ["yes"]
    assert _table_row(page, "ASO: MAX_CONCURRENT_RECONCILES")[1:] == ["-", "1 / 3600"]
    assert "ApiKey only" in page  # the workloads are named, so nobody compares different ones unawares


def test_the_report_has_no_aso_column_without_aso() -> None:
    page = markdown(_results(with_aso=False), "x.json")
    assert _table_row(page, "Figure") == ["Figure", "N = 100"]
    assert "ASO" not in page


def test_every_aso_figure_lands_in_a_row_of_ours_or_one_of_its_own() -> None:
    size = _results(with_aso=True)["sizes"][0]
    ours = {label for label, _ in _rows(size)}
    strays = [label for label in _aso_rows(size) if label not in ours and not label.startswith("ASO:")]
    assert not strays  # a label renamed on one side only would split a figure over two rows


def test_an_aso_failure_is_listed_with_the_figures_it_left() -> None:
    results = _results(with_aso=True)
    results["sizes"][0]["aso"]["error"] = "RuntimeError: ASO exited with 1"
    page = markdown(results, "x.json")
    assert "- ASO N = 100: RuntimeError: ASO exited with 1" in page
    assert _table_row(page, "**Create** N")[1:] == ["3.3", "46.8"]


def test_the_report_says_when_the_two_workloads_differ() -> None:
    same = _results(with_aso=True)
    assert "The workloads differ" not in markdown(same, "x.json")
    same["sizes"][0]["plan"]["workload"] = "examples"
    assert "The workloads differ" in markdown(same, "x.json")
