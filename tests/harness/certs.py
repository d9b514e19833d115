"""Throwaway X.509 material for TLS tests: a CA, a server certificate and client certificates.

Everything is generated with `cryptography` into a folder; nothing leaves it. The server
certificate is valid for 127.0.0.1 and localhost, so clients can verify the host name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class TlsFiles:
    ca: Path           # the CA certificate every party trusts
    server: Pair       # CN=localhost, SAN 127.0.0.1 + localhost, serverAuth
    client: Pair       # CN=postgres (the database user), clientAuth
    other_ca: Path     # an unrelated CA: a client trusting only it must fail
    stranger: Pair     # a client certificate signed by the unrelated CA


def _key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: Key, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(common_name: str) -> tuple[x509.Certificate, Key]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(ca: tuple[x509.Certificate, Key], common_name: str, *, server: bool) -> \
        tuple[x509.Certificate, Key]:
    ca_cert, ca_key = ca
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_tls_files(folder: Path, client_name: str = "postgres") -> TlsFiles:
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca("Clinic Test CA")
    other = _ca("Somebody Else's CA")

    def pair(issuer: tuple[x509.Certificate, Key], stem: str, name: str, server: bool) -> Pair:
        cert, key = _leaf(issuer, name, server=server)
        return Pair(_write_cert(cert, folder / f"{stem}.crt"),
                    _write_key(key, folder / f"{stem}.key"))

    return TlsFiles(
        ca=_write_cert(ca[0], folder / "ca.crt"),
        server=pair(ca, "server", "localhost", True),
        client=pair(ca, "client", client_name, False),
        other_ca=_write_cert(other[0], folder / "other-ca.crt"),
        stranger=pair(other, "stranger", client_name, False),
    )
