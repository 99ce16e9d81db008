"""Fixtures of the emulator's own tests: one `wsconn-emulator` process per test session (per xdist worker),
talked to over HTTPS exactly as a client would, and reset to its start-up state before every test.

Nothing is mocked: the emulator runs as its console script, tokens come from its Entra endpoint, and the
admin API (`/_emulator/...`) is the only back door, used for set-up and for reading the request log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

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
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsconn-test-client")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()
