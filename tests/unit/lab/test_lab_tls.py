"""TLS in the lab: the services' certificate made at `lab up`, the HTTPS of the Python stand-ins, and how Prometheus,
Alertmanager, HAProxy and the kubeconfig are told to use and trust it."""
from __future__ import annotations

import datetime
import socket
import ssl
import stat
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from lab import tls
from lab.components.base import lab_json, web_config
from lab.components.haproxy import HAProxy
from lab.components.ops_api import OpsApi
from lab.components.prometheus import scrape_config
from lab.config import TLS_PORTS, LabConfig, resolve_ports
from lab.services.httpbase import LabHTTPServer, Response, Router, make_handler
from lab.services.kube_apiserver import write_kubeconfig

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def names(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    found = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*found.get_values_for_type(x509.DNSName), *(str(ip) for ip in found.get_values_for_type(x509.IPAddress))}


def test_the_services_certificate_is_the_cas_for_localhost_and_127_0_0_1_and_kept_while_valid(tmp_path):
    cert_path, key_path = tls.write_service_cert(tmp_path, NOW)
    ca = x509.load_pem_x509_certificate(tls.ca_file(tmp_path).read_bytes())
    x509.load_pem_x509_certificate(cert_path.read_bytes()).verify_directly_issued_by(ca)
    assert names(cert_path) == {"localhost", "127.0.0.1"}
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600 and key_path.name == "services.pem.key"
    first = cert_path.read_bytes()
    tls.write_service_cert(tmp_path, NOW + datetime.timedelta(days=30))
    tls.write_lab_pki(tmp_path, NOW + datetime.timedelta(days=30))  # HAProxy's certificates are issued anew, not this one
    assert cert_path.read_bytes() == first  # running services read it: not rewritten while it is good
    tls.write_service_cert(tmp_path, NOW + datetime.timedelta(days=70))  # 20 days left: renewed
    assert cert_path.read_bytes() != first
    tls.write_service_cert(tmp_path, NOW + datetime.timedelta(days=3640))  # a new CA: the certificate follows it
    renewed_ca = x509.load_pem_x509_certificate(tls.ca_file(tmp_path).read_bytes())
    x509.load_pem_x509_certificate(cert_path.read_bytes()).verify_directly_issued_by(renewed_ca)


def test_issue_puts_addresses_in_ip_sans():
    ca_key, ca_cert = tls.make_ca(NOW)
    _key, cert = tls.issue(ca_key, ca_cert, ("localhost", "127.0.0.1", "::1"), NOW, NOW + datetime.timedelta(days=1))
    found = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert found.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in found.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]


def test_urls_are_https_for_the_tls_ports_only(tmp_path):
    cfg = LabConfig(state_dir=tmp_path, ports=resolve_ports())
    assert cfg.url("ops_api").startswith("https://127.0.0.1:") and cfg.url("prometheus").startswith("https://")
    assert {name for name in cfg.ports if cfg.url(name).startswith("https://")} == TLS_PORTS | {"haproxy_tls"}
    assert cfg.url("unleash").startswith("http://") and cfg.url("haproxy").startswith("http://")
    assert cfg.ca_file == tmp_path / "tls" / "ca.pem" and cfg.service_cert() == tls.service_cert_files(tmp_path / "tls")
    assert OpsApi().tls_args(cfg) == ["--tls-cert", str(cfg.service_cert()[0]), "--tls-key", str(cfg.service_cert()[1])]


def test_prometheus_scrapes_and_alerts_over_https_trusting_the_lab_ca_and_serves_with_its_certificate(tmp_path):
    cfg = LabConfig(state_dir=tmp_path, ports=resolve_ports())
    config = scrape_config(cfg)
    jobs = config["scrape_configs"] + config["alerting"]["alertmanagers"]
    assert all(job["scheme"] == "https" and job["tls_config"] == {"ca_file": str(cfg.ca_file)} for job in jobs)
    cert, key = cfg.service_cert()
    assert web_config(cfg) == {"tls_server_config": {"cert_file": str(cert), "key_file": str(key), "min_version": "TLS12"}}


def test_haproxy_verifies_the_api_servers_and_serves_its_exporter_over_tls(tmp_path):
    cfg = LabConfig(state_dir=tmp_path, ports=resolve_ports())
    tls.write_service_cert(cfg.path("tls"))
    HAProxy().prepare(cfg)
    text = HAProxy().config_file(cfg).read_text()
    assert f"default-server ssl verify required ca-file {cfg.ca_file} verifyhost localhost" in text
    assert f"bind 127.0.0.1:{cfg.ports['haproxy_stats']} ssl crt {cfg.service_cert()[0]}" in text
    assert f"bind 127.0.0.1:{cfg.ports['haproxy']}\n" in text  # the application frontend stays plain (README)


def test_the_kubeconfig_of_an_https_server_names_its_ca(tmp_path):
    write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1", None, ca_file=tmp_path / "ca.pem")
    cluster = yaml.safe_load((tmp_path / "kubeconfig").read_text())["clusters"][0]["cluster"]
    assert cluster == {"server": "https://127.0.0.1:1", "certificate-authority": str(tmp_path / "ca.pem")}


@pytest.fixture(name="https_server")
def fixture_https_server(tmp_path):
    """The lab's HTTPS stand-in server with the services' certificate; its config and URL."""
    cfg = LabConfig(state_dir=tmp_path, ports={"ops_api": 0})
    context = tls.server_context(*tls.write_service_cert(cfg.path("tls")))
    router = Router()
    router.add("GET", "/health", lambda _request: Response(200, {"ok": True}))
    server = LabHTTPServer(("127.0.0.1", 0), make_handler(router, "tls-test"), context)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    cfg.ports["ops_api"] = server.server_address[1]
    yield cfg
    server.shutdown()
    server.server_close()


def test_the_https_stand_in_answers_plain_http_with_400_and_survives_a_refused_handshake(https_server):
    cfg = https_server
    port = cfg.ports["ops_api"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:
        plain.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = plain.recv(4096)
    assert answer.startswith(b"HTTP/1.0 400") and b"HTTP request to an HTTPS server" in answer
    with pytest.raises(urllib.error.URLError) as refused:  # a client that trusts only the system store aborts the handshake
        urllib.request.urlopen(f"https://127.0.0.1:{port}/health", timeout=5, context=ssl.create_default_context())
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    assert lab_json(cfg, "ops_api", "/health") == {"ok": True}  # the lab's own client trusts the lab CA
