# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes connection options, and the API over plain HTTPS for the few calls made before a rollback.

The ``kubernetes`` client costs about 0.4 s of CPU to import (it imports every generated API class), and the emergency
rollback takes its lease (``lease.KubeStore``: one GET and one POST or PUT of a ``coordination.k8s.io`` Lease) before its
rollback request, while users still see the canary's errors. ``endpoint()`` reads the connection options the way
``kube.api_client`` does (the kubeconfig and its context, else ``KUBECONFIG`` or ``~/.kube/config``; ``host``, ``api_key``,
``ca_cert`` and ``validate_certs`` override it) and returns None when the kubeconfig needs what only the full client does:
an exec credential plugin, an auth provider, basic auth, impersonation, a proxy, a TLS server name, several kubeconfig
files to merge. The caller then uses the ``kubernetes`` client, with the same options.

``KUBE_SPEC`` (the options, documented by the doc fragment ``ofm.rollback.kube``) and ``error_for_status`` (an API status
as the collection's error) live here so that a module can use them without importing the ``kubernetes`` client.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from ansible.module_utils.basic import env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, AuthorizationError, CertificateError, ConflictError, InputError, NotFoundError, OfmRollbackError,
    UnavailableError)
from ansible_collections.ofm.rollback.plugins.module_utils.tls import TlsOptions, refusal, verification_failure

SYSTEM = "Kubernetes API"
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

KUBE_SPEC: dict[str, dict[str, Any]] = {
    "kubeconfig": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG", "KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "ca_cert": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
}

# The kubeconfig keys this client understands; any other key of the user or the cluster sends the caller to the full client.
USER_KEYS = frozenset({"token", "tokenFile", "client-certificate", "client-key", "client-certificate-data", "client-key-data"})
CLUSTER_KEYS = frozenset({"server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify", "extensions"})
TLS_OPTIONS = TlsOptions(ca_path="ca_cert (or the kubeconfig's certificate-authority)", validate_certs="validate_certs",
                         url="host (or the kubeconfig's server)")


def error_for_status(status: Optional[int], reason: str, operation: str, target: str) -> OfmRollbackError:
    """The collection's error for a Kubernetes API answer ``status`` (None: no answer at all)."""
    kwargs: dict[str, Any] = {"system": SYSTEM, "operation": operation, "target": target, "status": status}
    if status == 404:
        return NotFoundError(reason, **kwargs, hint="Check the name, kind and namespace, and that the resource type is installed.")
    if status == 409:
        return ConflictError(reason, **kwargs)
    if status == 401:
        return AuthenticationError(reason, **kwargs)
    if status == 403:
        return AuthorizationError(reason, **kwargs, hint="Give the account RBAC rights for this verb and resource in this namespace.")
    if status in (400, 422):
        return InputError(reason, **kwargs, hint="The API server rejected the object; see the reason.")
    if status is None or status in TRANSIENT_STATUSES or status >= 500:
        return UnavailableError(reason, **kwargs, sent=status is not None,
                                hint="Check that the API server is up and reachable from this host (host, kubeconfig), then run again.")
    return OfmRollbackError(reason, **kwargs)


def status_reason(status: int, body: bytes | str | None) -> str:
    """``HTTP <status>: <the Status object's message>``, or the status alone when the body says nothing readable."""
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return f"HTTP {status}: {message}"
    return f"HTTP {status}"


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach the API server: its URL, a bearer token, the CA to trust, a client certificate."""

    server: str
    token: Optional[str] = field(default=None, repr=False)
    ca_file: Optional[str] = None
    ca_data: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    cert_data: Optional[bytes] = field(default=None, repr=False)
    key_data: Optional[bytes] = field(default=None, repr=False)
    verify: bool = True


def kubeconfig_path(connection: Mapping[str, Any]) -> Optional[Path]:
    """The one kubeconfig file the options name, else None (several files to merge, or none at all)."""
    given = connection.get("kubeconfig") or os.environ.get("KUBECONFIG") or ""
    files = [part for part in str(given).split(os.pathsep) if part]
    if len(files) > 1:
        return None
    path = Path(files[0] if files else "~/.kube/config").expanduser()
    return path if path.is_file() else None


def _named(entries: Any, name: Any, key: str) -> Optional[dict[str, Any]]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name and isinstance(entry.get(key), dict):
            return entry[key]
    return None


def _file(base: Path, value: Any) -> Optional[str]:
    return str(base / str(value)) if value else None


def from_kubeconfig(path: Path, context: Optional[str]) -> Optional[Endpoint]:
    """The endpoint of ``context`` (else the current context) of the kubeconfig at ``path``; None when this client cannot
    use it (see the module's docstring) or the file cannot be read: the full client then reads it and says what is wrong."""
    import yaml  # pylint: disable=import-outside-toplevel

    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if not isinstance(config, dict):
        return None
    chosen = _named(config.get("contexts"), context or config.get("current-context"), "context")
    if chosen is None:
        return None
    cluster = _named(config.get("clusters"), chosen.get("cluster"), "cluster")
    user = _named(config.get("users"), chosen.get("user"), "user") if chosen.get("user") else {}
    if cluster is None or user is None or not cluster.get("server") or set(cluster) - CLUSTER_KEYS or set(user) - USER_KEYS:
        return None
    base = path.parent
    token = user.get("token")
    if not token and user.get("tokenFile"):
        try:
            token = Path(_file(base, user["tokenFile"]) or "").read_text(encoding="utf-8").strip()
        except OSError:
            return None
    try:
        ca_data = base64.b64decode(cluster["certificate-authority-data"]).decode("ascii") if cluster.get("certificate-authority-data") else None
        cert_data = base64.b64decode(user["client-certificate-data"]) if user.get("client-certificate-data") else None
        key_data = base64.b64decode(user["client-key-data"]) if user.get("client-key-data") else None
    except (ValueError, UnicodeDecodeError):
        return None
    return Endpoint(server=str(cluster["server"]).rstrip("/"), token=token or None, ca_file=_file(base, cluster.get("certificate-authority")),
                    ca_data=ca_data, cert_file=_file(base, user.get("client-certificate")), key_file=_file(base, user.get("client-key")),
                    cert_data=cert_data, key_data=key_data, verify=not cluster.get("insecure-skip-tls-verify"))


def endpoint(connection: Mapping[str, Any]) -> Optional[Endpoint]:
    """The endpoint of the connection options (``KUBE_SPEC``), or None when only the ``kubernetes`` client can use them."""
    found = Endpoint(server="")
    if connection.get("kubeconfig") or not connection.get("host"):
        path = kubeconfig_path(connection)
        loaded = from_kubeconfig(path, connection.get("context")) if path else None
        if loaded is None:
            return None
        found = loaded
    changes: dict[str, Any] = {"verify": connection.get("validate_certs", True) is not False}
    if connection.get("host"):
        changes["server"] = str(connection["host"]).rstrip("/")
    if connection.get("api_key"):
        changes["token"] = connection["api_key"]
    if connection.get("ca_cert"):
        changes.update(ca_file=connection["ca_cert"], ca_data=None)
    values = {**found.__dict__, **changes}
    return Endpoint(**values) if values["server"] else None


def ssl_context(end: Endpoint) -> ssl.SSLContext:
    """The TLS context of ``end``: its CA (else the system's), its client certificate, or no verification when asked."""
    if not end.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            context = ssl.create_default_context(cafile=end.ca_file, cadata=end.ca_data)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(f"cannot load the CA certificate {end.ca_file or '(certificate-authority-data)'}: {exc}", system=SYSTEM,
                             operation="client setup", option="ca_cert") from exc
    if end.cert_file or end.cert_data:
        _load_client_certificate(context, end)
    return context


def _load_client_certificate(context: ssl.SSLContext, end: Endpoint) -> None:
    """Load the client certificate and key; inline data goes through private temporary files that are removed at once."""
    with tempfile.TemporaryDirectory(prefix="ofm-kube-") as private:
        cert, key = end.cert_file, end.key_file
        for name, data in (("cert", end.cert_data), ("key", end.key_data)):
            if data:
                target = Path(private, f"{name}.pem")
                target.write_bytes(data)
                target.chmod(0o600)
                cert, key = (str(target), key) if name == "cert" else (cert, str(target))
        try:
            context.load_cert_chain(cert or "", key)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(f"cannot load the kubeconfig's client certificate: {exc}", system=SYSTEM, operation="client setup",
                             option="kubeconfig") from exc


class RestClient:
    """JSON requests to the API server of ``end``, each given up after ``timeout`` seconds; no retries (callers decide)."""

    def __init__(self, end: Endpoint, timeout: float = 5.0) -> None:
        import urllib3  # pylint: disable=import-outside-toplevel

        self.end = end
        self.timeout = timeout
        options: dict[str, Any] = {"timeout": urllib3.Timeout(total=timeout), "retries": False}
        if end.server.startswith("https:"):
            options["ssl_context"] = ssl_context(end)
            if not end.verify:
                options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        self.pool = urllib3.PoolManager(**options)

    def request(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None, operation: str = "") -> tuple[int, bytes]:
        """(HTTP status, body) of any answer; no answer at all is an ``UnavailableError`` (a ``CertificateError`` for TLS)."""
        import urllib3  # pylint: disable=import-outside-toplevel

        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.end.token:
            headers["Authorization"] = f"Bearer {self.end.token}"
        url = self.end.server + path
        operation = operation or method.lower()
        try:
            response = self.pool.request(method, url, body=json.dumps(body).encode("utf-8") if body is not None else None, headers=headers)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if verification_failure(exc) is not None or isinstance(getattr(exc, "reason", None), ssl.SSLError):
                why = refusal(exc, url, self.end.ca_file, TLS_OPTIONS, timeout=min(self.timeout, 5.0))
                raise CertificateError(why.reason, problem=why.problem, option=why.option, system=SYSTEM, operation=operation,
                                       target=url, hint=why.hint) from exc
            sent = not isinstance(exc, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError, ConnectionRefusedError))
            raise UnavailableError(f"no answer from {self.end.server} ({type(exc).__name__}: {getattr(exc, 'reason', None) or exc})",
                                   system=SYSTEM, operation=operation, target=url, sent=None if sent else False,
                                   hint="Check that the API server is up and reachable from this host (host, kubeconfig), then run again.") from exc
        return response.status, response.data
