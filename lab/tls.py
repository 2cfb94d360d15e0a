"""The lab's certificates, made with ``cryptography``: an own CA and server certificates it signs.

HAProxy's TLS frontend serves them by SNI (lab/components/haproxy.py): a valid certificate for ``api.ofm.social``, an
expired one for ``expired.ofm.social`` and, for ``wrong.ofm.social``, a valid certificate for another host.

The lab's HTTP services (the ops API, Prometheus, Alertmanager, the Slack, Statuspage and platforms stand-ins, the Kubernetes
API test server, ...) serve one certificate for ``localhost`` and ``127.0.0.1`` (``services.pem`` and its key
``services.pem.key``, the name HAProxy looks for beside a certificate), made at ``lab up`` (``write_service_cert``); clients
trust the CA (``ca.pem``) and verify it, as the collection does by default.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "ofm.rollback lab CA"


@dataclass(frozen=True)
class ServerCert:
    """A server certificate the TLS frontend serves for the SNI name ``sni``."""

    name: str
    sni: str
    hostnames: tuple[str, ...]
    expired: bool = False


SERVER_CERTS = (
    ServerCert("api", "api.ofm.social", ("api.ofm.social", "app.ofm.social")),
    ServerCert("expired", "expired.ofm.social", ("expired.ofm.social",), expired=True),
    ServerCert("wrong-host", "wrong.ofm.social", ("legacy.example.net",)),
)


# The names the services' certificate holds: clients reach the lab on loopback by address or by name.
SERVICE_HOSTS = ("localhost", "127.0.0.1")
SERVICE_CERT = "services.pem"
# A service certificate is issued anew when it has fewer days than this left (or another CA signed it).
RENEW_DAYS = 30


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ofm.rollback lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(now: Optional[datetime.datetime] = None, name: str = CA_NAME) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA key and certificate named ``name``, valid ten years from ``now``."""
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _san(hostname: str) -> x509.GeneralName:
    """An IP address SAN for an address, else a DNS name SAN."""
    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return x509.DNSName(hostname)


def issue(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, hostnames: tuple[str, ...],
          not_before: datetime.datetime, not_after: datetime.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server key and certificate for ``hostnames`` (the first is the CN; all are SANs: IP addresses as such, the others as
    DNS names), signed by the CA."""
    if not hostnames:
        raise ValueError("issue: hostnames must name at least one host")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(hostnames[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hostnames]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def validity(spec: ServerCert, now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """Not-before and not-after of a server certificate: 90 days ahead, or ended yesterday when ``expired``."""
    if spec.expired:
        return now - datetime.timedelta(days=90), now - datetime.timedelta(days=1)
    return now - datetime.timedelta(days=1), now + datetime.timedelta(days=90)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def write_pair(directory: Path, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    """``<name>.pem`` (the certificate) and ``<name>.pem.key`` (its key, 0600) in ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.pem.key"
    cert_path.write_bytes(pem(cert))
    _write_private(key_path, key_pem(key))
    return cert_path, key_path


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def ca_file(tls_dir: Path) -> Path:
    return tls_dir / "ca.pem"


def lab_ca(tls_dir: Path, now: Optional[datetime.datetime] = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The lab CA's key and certificate: the ones in ``tls_dir`` while they stay valid for more than RENEW_DAYS days, else
    a new CA written there."""
    now = now or _now()
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_key_path = tls_dir / "ca.key"
    if ca_key_path.exists() and ca_file(tls_dir).exists():
        ca_cert = x509.load_pem_x509_certificate(ca_file(tls_dir).read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if isinstance(loaded, ec.EllipticCurvePrivateKey) and ca_cert.not_valid_after_utc > now + datetime.timedelta(days=RENEW_DAYS):
            return loaded, ca_cert
    ca_key, ca_cert = make_ca(now)
    _write_private(ca_key_path, key_pem(ca_key))
    ca_file(tls_dir).write_bytes(pem(ca_cert))
    return ca_key, ca_cert


def service_cert_files(tls_dir: Path) -> tuple[Path, Path]:
    """The services' certificate and its key (the key beside it, named as HAProxy looks for it)."""
    return tls_dir / SERVICE_CERT, tls_dir / f"{SERVICE_CERT}.key"


def _current_service_cert(cert_path: Path, key_path: Path, ca_cert: x509.Certificate, now: datetime.datetime) -> bool:
    """Whether the services' certificate on disk is the CA's, for SERVICE_HOSTS, and valid for more than RENEW_DAYS days."""
    if not cert_path.exists() or not key_path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    held = {str(value) for value in names.get_values_for_type(x509.DNSName) + names.get_values_for_type(x509.IPAddress)}
    return held == set(SERVICE_HOSTS) and cert.not_valid_after_utc > now + datetime.timedelta(days=RENEW_DAYS)


def write_service_cert(tls_dir: Path, now: Optional[datetime.datetime] = None) -> tuple[Path, Path]:
    """The services' certificate for SERVICE_HOSTS and its key, signed by the lab CA: kept while it is the CA's and valid for
    more than RENEW_DAYS days (running services read these files), else issued anew for 90 days. Their paths."""
    now = now or _now()
    ca_key, ca_cert = lab_ca(tls_dir, now)
    cert_path, key_path = service_cert_files(tls_dir)
    if _current_service_cert(cert_path, key_path, ca_cert, now):
        return cert_path, key_path
    key, cert = issue(ca_key, ca_cert, SERVICE_HOSTS, now - datetime.timedelta(days=1), now + datetime.timedelta(days=90))
    for path, data, private in ((key_path, key_pem(key), True), (cert_path, pem(cert), False)):
        temporary = path.with_name(path.name + ".tmp")
        if private:
            _write_private(temporary, data)
        else:
            temporary.write_bytes(data)
        os.replace(temporary, path)
    return cert_path, key_path


def client_context(ca: Path) -> ssl.SSLContext:
    """A client context that trusts the lab CA ``ca`` only and verifies the certificate and its host name."""
    return ssl.create_default_context(cafile=str(ca))


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server context presenting ``cert_path`` (TLS 1.2 or later)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


def write_lab_pki(tls_dir: Path, now: Optional[datetime.datetime] = None) -> Path:
    """Write the CA (``ca.pem``, ``ca.key``), each server certificate with its key (``<name>.pem``, 0600, as HAProxy
    reads them; without the CA, which clients must have) and ``crt-list`` (one line per certificate with its SNI
    filter, the valid one first: the default); the path of the crt-list. The CA is kept when it exists and is still
    valid; the server certificates are issued anew every time.
    """
    now = now or _now()
    ca_key, ca_cert = lab_ca(tls_dir, now)
    lines = []
    for spec in SERVER_CERTS:
        not_before, not_after = validity(spec, now)
        key, cert = issue(ca_key, ca_cert, spec.hostnames, not_before, not_after)
        path = tls_dir / f"{spec.name}.pem"
        _write_private(path, pem(cert) + key_pem(key))
        lines.append(f"{path} {spec.sni}\n")
    crt_list = tls_dir / "crt-list"
    crt_list.write_text("".join(lines))
    return crt_list
