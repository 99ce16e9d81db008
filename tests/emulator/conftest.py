"""Fixtures of the emulator's own tests: one `wsconn-emulator` process per test session (per xdist worker),
talked to over HTTPS exactly as a client would, and reset to its start-up state before every test.

Nothing is mocked: the emulator runs as its console script, tokens come from its Entra endpoint, and the
admin API (`/_emulator/...`) is the only back door, used for set-up and for reading the request log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.certificates import self_signed
from tests.emulator.support import Emulator
from wsconn_testbed.emulator.client import EmulatorClient, running_emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator for the session, logging at debug level (so a leak in any log line would show)."""
    work = tmp_path_factory.mktemp("emulator")
    with running_emulator(work, "--log-level", "debug") as (process, client):
        yield Emulator(process, client, work / "emulator.log")


@pytest.fixture
def emu(emulator: Emulator) -> EmulatorClient:
    """The emulator's client, with the emulator reset to its start-up state."""
    assert emulator.process.poll() is None, f"the emulator exited; see {emulator.log_file}"
    emulator.client.admin("POST", "reset")
    return emulator.client


@pytest.fixture(scope="session")
def certificate() -> tuple[str, str]:
    """A self-signed client certificate and its private key (PEM), as an app registration would hold."""
    return self_signed("wsconn-test-client")
