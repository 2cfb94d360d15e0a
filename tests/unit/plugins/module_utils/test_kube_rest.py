"""kube_rest: which kubeconfigs the lease's plain-HTTPS client reads itself, and which go to the kubernetes client."""
from __future__ import annotations

import base64
import json

import pytest
import yaml

from ansible_collections.ofm.rollback.plugins.module_utils import kube_rest
from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, AuthorizationError, ConflictError, InputError, NotFoundError, UnavailableError)


def kubeconfig(tmp_path, user, cluster=None, name="config"):
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "main",
        "clusters": [{"name": "c", "cluster": cluster if cluster is not None else {"server": "https://k8s.example:6443/", "certificate-authority": "ca.pem"}},
                     {"name": "other", "cluster": {"server": "https://other.example"}}],
        "users": [{"name": "u", "user": user}, {"name": "nobody", "user": {}}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}, {"name": "second", "context": {"cluster": "other", "user": "nobody"}}],
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_token_user_is_read_with_the_ca_relative_to_the_kubeconfig(tmp_path):
    end = kube_rest.endpoint({"kubeconfig": str(kubeconfig(tmp_path, {"token": "t0k"}))})
    assert (end.server, end.token, end.ca_file, end.verify) == ("https://k8s.example:6443", "t0k", str(tmp_path / "ca.pem"), True)
    assert "t0k" not in repr(end)


def test_a_token_file_client_certificate_data_and_ca_data_are_read(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    user = {"tokenFile": "token", "client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key-data": base64.b64encode(b"KEY").decode()}
    cluster = {"server": "https://k8s.example", "certificate-authority-data": base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode()}
    end = kube_rest.endpoint({"kubeconfig": str(kubeconfig(tmp_path, user, cluster))})
    assert (end.token, end.cert_data, end.key_data, end.ca_data) == ("from-file", b"CERT", b"KEY", "-----BEGIN CERTIFICATE-----")


def test_the_named_context_is_used_and_options_override_the_kubeconfig(tmp_path):
    path = str(kubeconfig(tmp_path, {"token": "t0k"}))
    second = kube_rest.endpoint({"kubeconfig": path, "context": "second"})
    assert (second.server, second.token) == ("https://other.example", None)
    overridden = kube_rest.endpoint({"kubeconfig": path, "host": "https://elsewhere:1", "api_key": "key", "ca_cert": "/etc/ca.pem",
                                     "validate_certs": False})
    assert (overridden.server, overridden.token, overridden.ca_file, overridden.verify) == ("https://elsewhere:1", "key", "/etc/ca.pem", False)


def test_host_and_api_key_alone_need_no_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    end = kube_rest.endpoint({"host": "https://k8s.example", "api_key": "key"})
    assert (end.server, end.token) == ("https://k8s.example", "key")


@pytest.mark.parametrize("user, cluster", [
    ({"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1beta1"}}, None),
    ({"auth-provider": {"name": "oidc"}}, None),
    ({"username": "admin", "password": "secret"}, None),
    ({"token": "t", "as": "someone-else"}, None),
    ({"token": "t"}, {"server": "https://k8s.example", "proxy-url": "http://proxy:3128"}),
    ({"token": "t"}, {"server": "https://k8s.example", "tls-server-name": "api"}),
    ({"token": "t"}, {"certificate-authority": "ca.pem"}),
], ids=["exec", "auth-provider", "basic-auth", "impersonation", "proxy", "tls-server-name", "no-server"])
def test_what_only_the_kubernetes_client_does_goes_to_it(tmp_path, user, cluster):
    assert kube_rest.endpoint({"kubeconfig": str(kubeconfig(tmp_path, user, cluster))}) is None


def test_an_unknown_context_several_files_and_no_file_go_to_the_kubernetes_client(tmp_path, monkeypatch):
    path = str(kubeconfig(tmp_path, {"token": "t"}))
    assert kube_rest.endpoint({"kubeconfig": path, "context": "absent"}) is None
    assert kube_rest.endpoint({"kubeconfig": f"{path}:{kubeconfig(tmp_path, {'token': 'u'}, name='second')}"}) is None
    assert kube_rest.endpoint({"kubeconfig": str(tmp_path / "missing")}) is None
    (tmp_path / "broken").write_text("clusters: [")
    assert kube_rest.endpoint({"kubeconfig": str(tmp_path / "broken")}) is None
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert kube_rest.endpoint({}) is None


def test_kubeconfig_env_is_read_when_the_option_is_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, {"token": "env"})))
    assert kube_rest.endpoint({}).token == "env"


@pytest.mark.parametrize("status, error_type", [(404, NotFoundError), (409, ConflictError), (401, AuthenticationError), (403, AuthorizationError),
                                                (422, InputError), (503, UnavailableError), (429, UnavailableError), (None, UnavailableError)])
def test_each_status_is_the_collections_error(status, error_type):
    error = kube_rest.error_for_status(status, "why", "get Lease", "/apis/x")
    assert type(error).__name__ == error_type.__name__ and isinstance(error, error_type) and error.status == status and error.system == "Kubernetes API"


def test_the_reason_is_the_status_objects_message():
    body = json.dumps({"kind": "Status", "message": "leases.coordination.k8s.io \"x\" is forbidden"})
    assert kube_rest.status_reason(403, body) == 'HTTP 403: leases.coordination.k8s.io "x" is forbidden'
    assert kube_rest.status_reason(502, b"<html>bad gateway</html>") == "HTTP 502"
