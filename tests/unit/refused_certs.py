# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificates of the TLS refusal tests, made with the lab's own PKI code (lab/tls.py), and a small HTTPS server.

``make_certs`` writes a lab CA (the one clients trust, ``ca_file``) and four server certificates: ``trusted`` (the lab's
services certificate: localhost and 127.0.0.1, signed by the lab CA), ``untrusted`` (the same names, signed by another CA),
``wrong_host`` (signed by the lab CA, for another host only) and ``expired`` (the lab CA's, for the right names, ended
yesterday). ``HttpsStandIn`` serves one of them with the lab's own HTTPS server (lab/services/httpbase.py), counts the TLS
handshakes and records every HTTP request that got through.
"""
from __future__ import annotations

import datetime
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from lab import tls
from lab.services.httpbase import LabHTTPServer, Request, Response, Router, make_handler

DAY = datetime.timedelta(days=1)
OTHER_HOST = "legacy.example.net"
OTHER_CA = "Some other CA"


@dataclass(frozen=True)
class Certs:
    ca_file: Path
    other_ca_file: Path
    pairs: dict[str, tuple[Path, Path]]


def make_certs(directory: Path, now: Optional[datetime.datetime] = None) -> Certs:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca_key, ca_cert = tls.lab_ca(directory / "lab-ca", now)
    other_key, other_cert = tls.make_ca(now, OTHER_CA)  # a CA nobody here trusts
    other_ca_file = directory / "other-ca.pem"
    other_ca_file.write_bytes(tls.pem(other_cert))
    valid = (now - DAY, now + 90 * DAY)
    leaves = {
        "trusted": tls.issue(ca_key, ca_cert, tls.SERVICE_HOSTS, *valid),
        "untrusted": tls.issue(other_key, other_cert, tls.SERVICE_HOSTS, *valid),
        "wrong_host": tls.issue(ca_key, ca_cert, (OTHER_HOST,), *valid),
        "expired": tls.issue(ca_key, ca_cert, tls.SERVICE_HOSTS, now - 90 * DAY, now - DAY),
    }
    pairs = {name: tls.write_pair(directory, name, key, cert) for name, (key, cert) in leaves.items()}
    return Certs(tls.ca_file(directory / "lab-ca"), other_ca_file, pairs)


class HttpsStandIn:
    """An HTTPS server on 127.0.0.1 (the lab's ``LabHTTPServer``) presenting ``cert``: ``GET /health`` and ``POST /change``
    answer 200; ``requests`` holds every request that got past the TLS handshake, ``handshakes`` counts the ClientHellos
    that named a server (SNI: clients send it for ``localhost``, not for an address)."""

    def __init__(self, cert: tuple[Path, Path]) -> None:
        self.requests: list[str] = []
        self.handshakes = 0
        context = tls.server_context(*cert)
        context.sni_callback = self._hello
        router = Router()
        router.add("GET", "/health", self._answer)
        router.add("POST", "/change", self._answer)
        self.server = LabHTTPServer(("127.0.0.1", 0), make_handler(router, "refused-certs-test"), context)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}"

    def _hello(self, _tls: ssl.SSLObject, _server_name: Optional[str], _context: ssl.SSLContext) -> None:
        self.handshakes += 1

    def _answer(self, request: Request) -> Response:
        self.requests.append(f"{request.method} {request.path}")
        return Response(200, {"ok": True})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "HttpsStandIn":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()
