"""The command lines: `--version`, a help with an example for every sub-command, unknown options refused."""

from __future__ import annotations

import subprocess
from importlib.metadata import version

import pytest

from tests.tools.conftest import Run, script

COMMANDS = ("run", "crd", "validate", "plan", "import", "convert", "schema")


def test_version(wsconn: Run) -> None:
    run = wsconn("--version")
    assert run.returncode == 0
    assert run.stdout.strip() == f"wsconn {version('azureml-wsconn-operator')}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(wsconn: Run, command: str) -> None:
    run = wsconn(command, "--help")
    assert run.returncode == 0, run.stderr
    assert "Example" in run.stdout
    assert f"wsconn {command}" in run.stdout


def test_top_level_help_lists_every_command(wsconn: Run) -> None:
    run = wsconn("--help")
    assert all(command in run.stdout for command in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_options_are_errors(wsconn: Run, command: str) -> None:
    run = wsconn(command, "--no-such-option")
    assert run.returncode == 2
    assert "No such option '--no-such-option'" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("demo", "--no-such-option"), "unrecognized arguments: --no-such-option"),
        (("demo", "extra"), "unrecognized arguments: extra"),
        ((), "the following arguments are required: COMMAND"),
        (("other",), "invalid choice: 'other'"),
    ],
)
def test_testbed_refuses_what_it_does_not_know(args: tuple[str, ...], message: str) -> None:
    run = subprocess.run([script("wsconn-testbed"), *args], capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert message in run.stderr


def test_testbed_demo_help_documents_keep_and_once() -> None:
    run = subprocess.run(
        [script("wsconn-testbed"), "demo", "--help"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0
    assert "--keep" in run.stdout
    assert "keep the work directory" in run.stdout
    assert "--once" in run.stdout
    assert "example:" in run.stdout
