"""A throwaway PKI for loopback servers: one CA per run, serving certificates for 127.0.0.1/localhost.

Used by the local control plane (kube-apiserver, etcd) and by the Azure emulator. Keys are EC P-256:
fast to generate and accepted by Go, OpenSSL and Python's ssl module alike. Nothing here is meant to
protect anything beyond a test run; the files are written 0600 into a directory the caller owns.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=2)


@dataclass(frozen=True)
class CertPair:
    """Paths of a PEM certificate and its PEM private key."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Authority:
    """A CA that can issue leaf certificates."""

    cert: Path
    key: Path
    _cert_obj: x509.Certificate
    _key_obj: ec.EllipticCurvePrivateKey

    def issue(
        self,
        directory: Path,
        name: str,
        *,
        server: bool = True,
        client: bool = False,
        organisations: tuple[str, ...] = (),
        dns_names: tuple[str, ...] = (),
    ) -> CertPair:
        """Issue a leaf certificate valid for 127.0.0.1, localhost and `dns_names`, written as <name>.crt/.key."""
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organisations]
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self._cert_obj.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key_obj.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        *(x509.DNSName(n) for n in dns_names),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(self._key_obj, hashes.SHA256())
        return _write_pair(directory, name, cert, key)


def create_authority(directory: Path, name: str = "wsconn-testbed-ca") -> Authority:
    """Create a self-signed CA in `directory` (ca.crt, ca.key)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pair = _write_pair(directory, "ca", cert, key)
    return Authority(cert=pair.cert, key=pair.key, _cert_obj=cert, _key_obj=key)


def write_rsa_keypair(directory: Path, name: str) -> CertPair:
    """Write an RSA private key and its public key (<name>.key, <name>.pub), e.g. for token signing."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = directory / f"{name}.key"
    public = directory / f"{name}.pub"
    _write_private(
        private,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return CertPair(cert=public, key=private)


def write_trust_bundle(path: Path, *extra_cas: Path) -> Path:
    """Write the system CA bundle (when there is one) followed by `extra_cas`, for SSL_CERT_FILE.

    Clients that are pointed at the bundle keep verifying public endpoints while trusting ours.
    """
    parts: list[bytes] = []
    for system in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if os.path.exists(system):
            parts.append(Path(system).read_bytes())
            break
    parts += [ca.read_bytes() for ca in extra_cas]
    path.write_bytes(b"\n".join(parts))
    return path


def _write_pair(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> CertPair:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return CertPair(cert=cert_path, key=key_path)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
