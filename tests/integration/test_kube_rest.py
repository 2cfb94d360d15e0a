"""The lease's plain-HTTPS Kubernetes client (module_utils/kube_rest.py) against the Kubernetes API test server over TLS.

The emergency rollback takes its lease without importing the kubernetes client: these tests hold that client to what the
kubernetes client did for the lease (the token, the CA of the kubeconfig, a conflict for a racing writer) and to clear
errors for a wrong token, an untrusted certificate and a stopped server.
"""
from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from kubelab import kube_apiserver

from ansible_collections.ofm.rollback.plugins.module_utils import kube_rest
from ansible_collections.ofm.rollback.plugins.module_utils import lease as leases
from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, CertificateError, UnavailableError
from lab import tls

TOKEN = "kube-rest-test-token"


@pytest.fixture(scope="module", name="server")
def fixture_server(tmp_path_factory):
    """The test server over HTTPS with the lab PKI of a temporary directory, requiring TOKEN; its URL, kubeconfig and CA."""
    tmp = tmp_path_factory.mktemp("kube-rest")
    cert, key = tls.write_service_cert(tmp / "tls")
    (tmp / "token").write_text(TOKEN)
    ca = tls.ca_file(tmp / "tls")
    with kube_apiserver(tmp, "--tls-cert", str(cert), "--tls-key", str(key), "--ca-file", str(ca), "--token-file", str(tmp / "token")) as (_url, kubeconfig):
        yield kubeconfig, ca, tmp


def holder(name: str) -> leases.Holder:
    now = time.time()
    return leases.Holder(identity=f"{name}@test", incident_id="INC-1", operator=name, procedure="emergency", target="api", host=f"{name}-host",
                         pid=1, ttl=60.0, acquired=now, renewed=now)


def test_the_kubeconfig_is_read_without_the_kubernetes_client_and_the_lease_is_taken_once(server):
    kubeconfig, ca, _tmp = server
    store = leases.kube_store({"kubeconfig": str(kubeconfig)}, "default")
    assert isinstance(store.transport, kube_rest.RestClient)
    assert store.transport.end.server.startswith("https://") and store.transport.end.ca_file == str(ca)
    first = leases.acquire(store, "ofm-rollback-rest", holder("alice"))
    assert first.changed and first.holder.operator == "alice"
    with pytest.raises(leases.LeaseHeld) as held:
        leases.acquire(store, "ofm-rollback-rest", holder("bob"))
    assert held.value.holder.operator == "alice"
    found, version = store.read("ofm-rollback-rest")
    assert found.identity == "alice@test" and version
    store.write("ofm-rollback-rest", replace(found, renewed=found.renewed + 1), version)  # a renewal
    with pytest.raises(leases.ConflictError):  # a writer that read before that renewal: the server has moved on
        store.write("ofm-rollback-rest", replace(found, renewed=found.renewed + 2), version)
    assert leases.release(store, "ofm-rollback-rest", holder("alice"))[0]
    assert store.read("ofm-rollback-rest")[0] is None


def test_a_wrong_token_is_an_authentication_error(server):
    kubeconfig, _ca, _tmp = server
    store = leases.kube_store({"kubeconfig": str(kubeconfig), "api_key": "not-the-token"}, "default")
    with pytest.raises(AuthenticationError) as refused:
        store.read("ofm-rollback-rest")
    assert refused.value.status == 401 and "not-the-token" not in str(refused.value)


def test_a_server_certificate_the_ca_did_not_sign_is_refused_naming_the_option(server, tmp_path):
    kubeconfig, _ca, _tmp = server
    tls.write_service_cert(tmp_path / "other")  # another lab CA, which did not sign the server's certificate
    other_ca = tls.ca_file(tmp_path / "other")
    store = leases.kube_store({"kubeconfig": str(kubeconfig), "ca_cert": str(other_ca)}, "default")
    with pytest.raises(CertificateError) as refused:
        store.read("ofm-rollback-rest")
    assert refused.value.problem == "untrusted" and refused.value.sent is False
    assert "ca_cert" in refused.value.option


def test_a_stopped_server_is_unavailable_with_nothing_sent(server):
    kubeconfig, _ca, _tmp = server
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = yaml.safe_load(Path(kubeconfig).read_text())
    store = leases.kube_store({"kubeconfig": str(kubeconfig), "host": f"https://127.0.0.1:{port}"}, "default")
    assert config["clusters"][0]["cluster"]["server"] != store.transport.end.server
    with pytest.raises(UnavailableError) as down:
        store.read("ofm-rollback-rest")
    assert down.value.sent is False and not isinstance(down.value, CertificateError)


def test_an_exec_plugin_kubeconfig_uses_the_kubernetes_client(server, tmp_path):
    kubeconfig, _ca, _tmp = server
    config = yaml.safe_load(Path(kubeconfig).read_text())
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "echo",
                                           "args": ['{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
                                                    f'"status": {{"token": "{TOKEN}"}}}}'], "interactiveMode": "Never"}}
    path = tmp_path / "exec-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    store = leases.kube_store({"kubeconfig": str(path)}, "default")
    assert isinstance(store.transport, leases.ClientTransport)
    taken = leases.acquire(store, "ofm-rollback-exec", replace(holder("carol"), identity="carol@test"))
    assert taken.changed and store.read("ofm-rollback-exec")[0].operator == "carol"
