# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates the TLS tests make with ``cryptography`` (an own CA, and leaves that are valid, expired, for another host, from
an untrusted CA, expiring in 3 days, and a wildcard one) and a local TLS server that picks the certificate by SNI.

Fixtures built on them (``tls_pki``, ``tls_server``) are in conftest.py beside this file.
"""
from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.now(timezone.utc)
DAY = timedelta(days=1)


@dataclass
class Authority:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - 30 * DAY).not_valid_after(NOW + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Authority(name, key, cert)


def make_leaf(ca: Authority, directory: Path, label: str, names: list[str], not_before: datetime, not_after: datetime) -> tuple[Path, Path]:
    """A leaf signed by ``ca`` for ``names``; returns its PEM certificate (leaf then CA) and key files."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    cert_file, key_file = directory / f"{label}.crt", directory / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


class SniTlsServer:
    """A TLS server on 127.0.0.1 that presents the certificate of the SNI name asked for (``default`` without a known name);
    each connection is handshaken in a thread of its own and then closed. ``names_seen`` records the SNI names received."""

    def __init__(self, certificates: dict[str, tuple[Path, Path]], default: str):
        self.contexts = {}
        for name, (cert_file, key_file) in certificates.items():
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            self.contexts[name] = context
        self.context = self.contexts[default]
        self.context.sni_callback = self._select
        self.names_seen: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _select(self, tls: ssl.SSLObject, server_name: str, _context: ssl.SSLContext) -> None:
        self.names_seen.append(server_name)
        if server_name in self.contexts:
            tls.context = self.contexts[server_name]

    def _serve(self) -> None:
        while True:
            try:
                conn, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.context.wrap_socket(conn, server_side=True):
                pass
        except OSError:  # the client refused the certificate and aborted the handshake
            conn.close()

    def close(self) -> None:
        self.listener.close()


def make_test_pki(directory: Path) -> dict[str, Path]:
    """The CA bundle (``bundle``, the own CA only) and, per SNI name, the PEM certificate chain and key files of its leaf."""
    ca, rogue = make_ca("OFM Test Root CA"), make_ca("Rogue CA")
    bundle = directory / "ca.pem"
    bundle.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    return {
        "bundle": bundle,
        "valid.ofm.test": make_leaf(ca, directory, "valid", ["valid.ofm.test"], NOW - DAY, NOW + 90 * DAY),
        "expired.ofm.test": make_leaf(ca, directory, "expired", ["expired.ofm.test"], NOW - 100 * DAY, NOW - 10 * DAY),
        "wronghost.ofm.test": make_leaf(ca, directory, "other", ["other.example.net"], NOW - DAY, NOW + 90 * DAY),
        "untrusted.ofm.test": make_leaf(rogue, directory, "untrusted", ["untrusted.ofm.test"], NOW - DAY, NOW + 90 * DAY),
        "soon.ofm.test": make_leaf(ca, directory, "soon", ["soon.ofm.test"], NOW - 60 * DAY, NOW + 3 * DAY + timedelta(hours=1)),
        "wild.ofm.test": make_leaf(ca, directory, "wild", ["*.wild.ofm.test", "wild.ofm.test"], NOW - DAY, NOW + 90 * DAY),
    }
