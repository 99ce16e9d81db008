"""The operator's image, built by hack/build-image (buildah, from the Dockerfile) and started as users run it:
its own entrypoint, as its own user (10001), with chroot isolation (no container runtime works here; chroot
shares the host's network, so the image reaches the local control plane and the Azure emulator on
127.0.0.1). Through its ordinary settings only: a kubeconfig and a CA bundle mounted read-only, Azure's
variables. An example must become Ready, and SIGTERM must stop it cleanly.

Also checked on the built image: it holds the operator alone (no test bed, no pip), and the SBOM beside it
names every locked runtime package at its locked version. Nothing is mocked; the build is cached per digest
of its inputs, so a warm run reuses the image.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.tools import built
from tests.e2e.amlconn import Workspace, load_examples, retarget, wait_condition
from tests.e2e.conftest import repo_root
from tests.e2e.kube import Kubectl
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.controlplane import Cluster
from wsconn_testbed.emulator.client import EmulatorClient

pytestmark = pytest.mark.e2e

CONFIG = "/wsconn-config"  # where the test's kubeconfig and CA bundle appear inside the container


@dataclass(frozen=True)
class BuiltImage:
    """What hack/build-image reports (its image.env)."""

    directory: Path
    fields: Mapping[str, str]

    @property
    def name(self) -> str:
        """The image's local name."""
        return self.fields["IMAGE"]

    def buildah(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """buildah on the build's own store."""
        argv = ["buildah", *self.store(), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def store(self) -> list[str]:
        """buildah's global options for the build's store."""
        return [
            "--root",
            self.fields["BUILDAH_ROOT"],
            "--runroot",
            self.fields["BUILDAH_RUNROOT"],
            "--storage-driver",
            self.fields["BUILDAH_DRIVER"],
        ]

    def config(self) -> dict[str, Any]:
        """The image's OCI config (Entrypoint, Cmd, User, Env...)."""
        inspected = json.loads(self.buildah("inspect", "--type", "image", self.name).stdout)
        found: dict[str, Any] = inspected["OCIv1"]["config"]
        return found


@pytest.fixture(scope="module")
def image() -> BuiltImage:
    """The image, built (or found in the cache) by hack/build-image."""
    directory = Path(built("build-image", needs="root, buildah, mmdebstrap and a Debian mirror"))
    lines = (directory / "image.env").read_text().splitlines()
    return BuiltImage(directory, dict(line.split("=", 1) for line in lines if "=" in line))


@pytest.fixture
def container(image: BuiltImage) -> Iterator[str]:
    """A working container of the image, removed afterwards."""
    name = f"wsconn-e2e-{uuid.uuid4().hex[:8]}"
    image.buildah("from", "--name", name, image.name)
    yield name
    image.buildah("rm", name, check=False)


def run_in(image: BuiltImage, container: str, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a command in the container as the image's user; never raises on its exit code."""
    user = image.config()["User"]
    return subprocess.run(
        [
            "buildah",
            *image.store(),
            "run",
            "--isolation",
            "chroot",
            "--user",
            user,
            container,
            "--",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class ImageOperator(OperatorProcess):
    """The operator started from the image: its Entrypoint and Cmd, as its User, in a chroot container."""

    image: BuiltImage | None = None
    container: str = ""
    mounts: tuple[tuple[Path, str], ...] = ()

    def command(self, env: Mapping[str, str]) -> list[str]:
        assert self.image is not None
        config = self.image.config()
        argv = ["buildah", *self.image.store(), "run", "--isolation", "chroot", "--user", config["User"]]
        for source, target in self.mounts:
            argv += ["--volume", f"{source}:{target}:ro"]
        for key, value in env.items():
            argv += ["--env", f"{key}={value}"]
        return [*argv, self.container, "--", *config["Entrypoint"], *(config.get("Cmd") or [])]

    def signal_target(self) -> int:
        """The operator's own process: buildah answers SIGTERM by killing its child, so the signal goes to
        the process at the bottom of buildah's tree (chroot isolation shares the host's pid namespace)."""
        assert self.popen is not None
        pid = self.popen.pid
        while children := _children(pid):
            pid = children[-1]
        return pid


def _children(pid: int) -> list[int]:
    """Child processes of `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def container_config_dir(cluster: Cluster, emulator_env: Mapping[str, str], where: Path) -> Path:
    """A directory for the container: the cluster's kubeconfig with its CA inlined, and the emulator's CA
    bundle, readable by the image's user."""
    where.mkdir(mode=0o755)
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in kubeconfig["clusters"]:
        ca_path = entry["cluster"].pop("certificate-authority", None)
        if ca_path:
            entry["cluster"]["certificate-authority-data"] = base64.b64encode(
                Path(ca_path).read_bytes()
            ).decode()
    (where / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    (where / "ca-bundle.pem").write_bytes(Path(emulator_env["SSL_CERT_FILE"]).read_bytes())
    for path in where.iterdir():
        path.chmod(0o644)
    return where


def test_image_config(image: BuiltImage) -> None:
    config = image.config()
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["wsconn", "run"]
    assert {"8080/tcp", "8081/tcp"} <= set(config["ExposedPorts"])
    assert int(image.fields["SIZE_BYTES"]) > 0


def test_image_holds_the_operator_alone(image: BuiltImage, container: str) -> None:
    proc = run_in(
        image,
        container,
        "python3",
        "-c",
        "import importlib.metadata as m, importlib.util as u, os, shutil; "
        "print(os.getuid(), u.find_spec('wsconn') is not None, u.find_spec('wsconn_testbed') is None, "
        "shutil.which('pip') is None, shutil.which('wsconn-emulator') is None, "
        "sorted(d.metadata['Name'].lower() for d in m.distributions() if 'wsconn' in d.metadata['Name']))",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(" ", 5) == [
        "10001",
        "True",
        "True",
        "True",
        "True",
        "['azureml-wsconn-operator']\n",
    ]


def _locked(lock: Path) -> dict[str, str]:
    """name -> version of every package in a uv lock that applies to Linux."""
    out = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)(?: ; (.*?))?(?: \\)?$", line)
        if not match:
            continue
        marker = match.group(3) or ""
        if "sys_platform == 'win32'" in marker or "platform_system == 'Windows'" in marker:
            continue
        out[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return out


def test_sbom_lists_what_the_image_holds(image: BuiltImage) -> None:
    sbom = json.loads((image.directory / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["metadata"]["component"]["name"] == "wsconn-operator"
    purls = [c["purl"] for c in sbom["components"] if "purl" in c]
    assert len(purls) == int(image.fields["SBOM_PACKAGES"])
    pypi = {
        re.sub(r"[-_.]+", "-", p.split("/")[1].split("@")[0]).lower(): p.split("@")[1].split("?")[0]
        for p in purls
        if p.startswith("pkg:pypi/")
    }
    locked = _locked(repo_root() / "requirements" / "runtime.txt")
    assert {name: pypi.get(name) for name in locked} == locked
    assert set(pypi) == {*locked, "azureml-wsconn-operator"}, "only the operator and its locked dependencies"
    debian = {p.split("/")[2].split("@")[0] for p in purls if p.startswith("pkg:deb/")}
    assert {"python3.11", "ca-certificates", "libc6"} <= debian


def test_image_runs_to_ready(
    image: BuiltImage,
    container: str,
    crd: None,
    cluster: Cluster,
    emulator: EmulatorClient,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    tmp_path: Path,
) -> None:
    azure = emulator.operator_env()
    config_dir = container_config_dir(cluster, azure, tmp_path / "config")
    env = {
        **azure,
        "SSL_CERT_FILE": f"{CONFIG}/ca-bundle.pem",
        "KUBECONFIG": f"{CONFIG}/kubeconfig",
        "WSCONN_NAMESPACES": namespace,
    }
    operator = ImageOperator(
        env=env,
        log_path=tmp_path / "operator.log",
        image=image,
        container=container,
        mounts=((config_dir, CONFIG),),
    )
    try:
        operator.start(wait_ready=True)
        example = next(e for e in load_examples() if e.auth_type == "ApiKey")
        objects = retarget(example, workspace, name="from-image", api_version=None)
        kubectl.run("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(objects))
        ready = wait_condition(kube, namespace, "from-image", timeout=90)
        assert ready["status"]["id"].lower() == workspace.connection_id("from-image").lower()
        puts = [
            r
            for r in emulator.requests()
            if r["method"] == "PUT" and r["path"].lower() == workspace.connection_id("from-image").lower()
        ]
        assert len(puts) == 1, puts
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(operator.metrics())
            for s in family.samples
        }
        resource = (("resource_name", "from-image"), ("resource_namespace", namespace))
        for condition, status, value in [
            ("Ready", "True", 1.0),
            ("Ready", "False", 0.0),
            ("Stalled", "True", 0.0),
        ]:
            labels = tuple(sorted((*resource, ("condition", condition), ("status", status))))
            assert samples[("wsconn_workspaceconnection_condition", labels)] == value
    finally:
        code = operator.stop()
        if code != 0:
            print(operator.logs()[-8000:])
    assert code == 0, f"the image's operator exited {code} on SIGTERM"
    assert "Traceback" not in operator.logs()
    assert azure["AZURE_CLIENT_SECRET"] not in operator.logs()
