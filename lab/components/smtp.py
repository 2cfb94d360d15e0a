"""The lab's SMTP server (aiosmtpd: STARTTLS and implicit TLS, AUTH required, delivering into a Maildir)."""
from __future__ import annotations

import socket
from pathlib import Path

from lab.components.base import PythonService
from lab.config import HOST, LabConfig
from lab.tls import _write_private, issue, key_pem, pem, write_lab_pki

USER = "ofm-notify"
HOSTNAMES = ("localhost", "smtp.lab.ofm.social")


def maildir(cfg: LabConfig) -> Path:
    return cfg.path("mail")


class Smtp(PythonService):
    name = "smtp"
    module = "smtp"
    ports = ("smtp", "smtps")
    description = "SMTP server (aiosmtpd): STARTTLS and TLS with the lab CA's certificate, AUTH as ofm-notify, a Maildir"

    def prepare(self, cfg: LabConfig) -> None:
        import datetime  # pylint: disable=import-outside-toplevel
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
        tls_dir = cfg.path("tls")
        write_lab_pki(tls_dir)
        ca_cert = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((tls_dir / "ca.key").read_bytes(), password=None)
        now = datetime.datetime.now(datetime.timezone.utc)
        key, cert = issue(ca_key, ca_cert, HOSTNAMES, now - datetime.timedelta(days=1), now + datetime.timedelta(days=90))
        _write_private(tls_dir / "smtp.pem", pem(cert) + key_pem(key))

    def service_args(self, cfg: LabConfig) -> list[str]:
        return ["--host", HOST, "--port", str(cfg.ports["smtp"]), "--tls-port", str(cfg.ports["smtps"]),
                "--cert", str(cfg.path("tls", "smtp.pem")), "--maildir", str(maildir(cfg)), "--user", USER]

    def env(self, cfg: LabConfig) -> dict[str, str]:
        return {"OFM_LAB_SMTP_PASSWORD": cfg.credentials().smtp_password}

    def ready(self, cfg: LabConfig) -> bool:
        try:
            with socket.create_connection((HOST, cfg.ports["smtp"]), timeout=1) as connection:
                return connection.recv(64).startswith(b"220")
        except OSError:
            return False

    def reset(self, cfg: LabConfig) -> None:
        for folder in ("new", "cur", "tmp"):
            for path in (maildir(cfg) / folder).glob("*"):
                path.unlink()
