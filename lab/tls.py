"""The lab's certificates, made with ``cryptography``: an own CA and server certificates it signs.

HAProxy's TLS frontend serves them by SNI (lab/components/haproxy.py): a valid certificate for ``api.ofm.social``, an
expired one for ``expired.ofm.social`` and, for ``wrong.ofm.social``, a valid certificate for another host.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cryptography import x509
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


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ofm.rollback lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(now: Optional[datetime.datetime] = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA key and certificate, valid ten years from ``now``."""
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(CA_NAME)).issuer_name(_name(CA_NAME))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, hostnames: tuple[str, ...],
          not_before: datetime.datetime, not_after: datetime.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server key and certificate for ``hostnames`` (the first is the CN, all are DNS SANs), signed by the CA."""
    if not hostnames:
        raise ValueError("issue: hostnames must name at least one host")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(hostnames[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), critical=False)
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


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def ca_file(tls_dir: Path) -> Path:
    return tls_dir / "ca.pem"


def write_lab_pki(tls_dir: Path, now: Optional[datetime.datetime] = None) -> Path:
    """Write the CA (``ca.pem``, ``ca.key``), each server certificate with its key (``<name>.pem``, 0600, as HAProxy
    reads them; without the CA, which clients must have) and ``crt-list`` (one line per certificate with its SNI
    filter, the valid one first: the default); the path of the crt-list. The CA is kept when it exists and is still
    valid; the server certificates are issued anew every time.
    """
    now = now or _now()
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_key_path = tls_dir / "ca.key"
    ca_key = ca_cert = None
    if ca_key_path.exists() and ca_file(tls_dir).exists():
        ca_cert = x509.load_pem_x509_certificate(ca_file(tls_dir).read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        still_valid = ca_cert.not_valid_after_utc > now + datetime.timedelta(days=30)
        if isinstance(loaded, ec.EllipticCurvePrivateKey) and still_valid:
            ca_key = loaded
    if ca_key is None or ca_cert is None:
        ca_key, ca_cert = make_ca(now)
        _write_private(ca_key_path, key_pem(ca_key))
        ca_file(tls_dir).write_bytes(pem(ca_cert))
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
