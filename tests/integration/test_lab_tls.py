"""TLS in the lab: every HTTP service of the lab serves the lab CA's certificate for 127.0.0.1 and localhost, and the
collection's modules refuse a certificate that is untrusted, for another host or expired, before any request, saying what
is wrong and which option fixes it.

Not shared_lab: the lab is only read; the refused certificates are served by ops API stand-ins this module starts itself
(the real ``lab.services.ops_api`` processes, on free ports, with the certificates of tests/unit/refused_certs.py, which the
lab's own PKI code makes) and that reach no HAProxy of the lab.
"""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from cryptography import x509
from labtest import run_module, wait_until
from refused_certs import OTHER_CA, OTHER_HOST, Certs, make_certs

from lab.config import HOST, REPO_ROOT, TLS_PORTS, LabConfig

TOKEN = "tls-integration-SECRET-admin-7c4e"
INCIDENT = "INC-7007"


def served_names(lab: LabConfig, port_name: str, server_name: str) -> set[str]:
    """The SANs of the certificate the lab serves on ``port_name``, read through a handshake that verifies it against the lab CA
    for ``server_name``."""
    context = ssl.create_default_context(cafile=str(lab.ca_file))
    with socket.create_connection((HOST, lab.ports[port_name]), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    found = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*found.get_values_for_type(x509.DNSName), *(str(ip) for ip in found.get_values_for_type(x509.IPAddress))}


@pytest.mark.parametrize("port_name", sorted(TLS_PORTS))
def test_each_lab_http_service_serves_the_lab_cas_certificate_for_127_0_0_1_and_localhost(lab: LabConfig, port_name: str):
    assert lab.url(port_name).startswith("https://127.0.0.1:")
    assert served_names(lab, port_name, "127.0.0.1") == {"localhost", "127.0.0.1"}
    assert served_names(lab, port_name, "localhost") == {"localhost", "127.0.0.1"}


def test_the_labs_kubeconfig_and_inventory_trust_the_lab_ca(lab: LabConfig):
    cluster = yaml.safe_load(lab.path("kubeconfig").read_text())["clusters"][0]["cluster"]
    assert cluster == {"server": lab.url("kube_apiserver"), "certificate-authority": str(lab.ca_file)}
    inventory = (REPO_ROOT / "inventories" / "lab" / "group_vars" / "all" / "lab.yml").read_text()
    assert "ofm_validate_certs" not in inventory and 'ofm_ca_path: "{{ ofm_lab_ca_path }}"' in inventory


@dataclass
class StandIn:
    """A throwaway ops API stand-in serving one certificate; ``journal`` is its request log (one line per HTTP request)."""

    url: str
    journal: Path
    audit: Path

    def requests(self) -> list[str]:
        return self.journal.read_text().splitlines() if self.journal.exists() else []


@pytest.fixture(scope="module", name="certs")
def fixture_certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module", name="stand_ins")
def fixture_stand_ins(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, StandIn]]:
    """One ops API stand-in per certificate (trusted, untrusted, wrong_host, expired), each on a free port; stopped afterwards.
    Their HAProxy socket does not exist: even a request that got through could move no weight of the lab."""
    workdir = tmp_path_factory.mktemp("ops-api-tls")
    credentials = workdir / "credentials.json"
    credentials.write_text(json.dumps({"sessions": {}, "tokens": {TOKEN: {"sub": "lab|tls", "email": "tls@lab.ofm.social", "roles": ["admin"]}}}))
    os.chmod(credentials, 0o600)
    started: dict[str, tuple[subprocess.Popen, StandIn]] = {}
    try:
        for name, (cert, key) in certs.pairs.items():
            with socket.socket() as probe:
                probe.bind((HOST, 0))
                port = probe.getsockname()[1]
            stand_in = StandIn(f"https://{HOST}:{port}", workdir / f"{name}-requests.log", workdir / f"{name}-audit.jsonl")
            argv = [sys.executable, "-m", "lab.services.ops_api", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key),
                    "--credentials-file", str(credentials), "--haproxy-socket", str(workdir / "no-haproxy.sock"),
                    "--log-file", str(stand_in.journal), "--audit-file", str(stand_in.audit)]
            process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # pylint: disable=consider-using-with
            started[name] = (process, stand_in)
        for name, (process, _stand_in) in started.items():
            wait_until(lambda p=process, n=name: p.poll() is None and _listening(started[n][1].url), 30, interval=0.1,
                       what=f"the {name} ops API stand-in listening")
        yield {name: stand_in for name, (_process, stand_in) in started.items()}
    finally:
        for process, _stand_in in started.values():
            process.terminate()
            process.wait(timeout=10)


def _listening(url: str) -> bool:
    try:
        with socket.create_connection((HOST, int(url.rsplit(":", 1)[1])), timeout=0.3):
            return True
    except OSError:
        return False


def info(stand_in: StandIn, certs: Certs, workdir: Path):
    return run_module("ops_api_info", {"ops_api_url": stand_in.url, "ca_path": str(certs.ca_file)}, workdir, env={"OFM_OPS_API_TOKEN": TOKEN})


def test_the_trusted_stand_in_answers(stand_ins: dict[str, StandIn], certs: Certs, tmp_path: Path):
    run = info(stand_ins["trusted"], certs, tmp_path)
    assert not run.failed and run.result["is_admin"] is True, run.output[-2000:]
    assert any("GET /health" in line for line in stand_ins["trusted"].requests())


@pytest.mark.parametrize("name, problem, option, says", [
    pytest.param("untrusted", "untrusted", "ca_path", f"issued by CN={OTHER_CA},O=ofm.rollback lab, is not trusted by ca_path",
                 marks=pytest.mark.reliability("tls", procedure="ops_api_info", case="the ops API's certificate is signed by another CA",
                                               expected="refused: not trusted, set ca_path; no request reached the server"),
                 id="untrusted"),
    pytest.param("wrong_host", "hostname", "ops_api_url", f"is not valid for 127.0.0.1 (it names {OTHER_HOST})",
                 marks=pytest.mark.reliability("tls", procedure="ops_api_info", case="the ops API's certificate is for another host",
                                               expected="refused: not valid for this host, fix ops_api_url; no request reached the server"),
                 id="wrong-host"),
    pytest.param("expired", "expired", None, "the server's certificate expired at",
                 marks=pytest.mark.reliability("tls", procedure="ops_api_info", case="the ops API's certificate has expired",
                                               expected="refused: expired, renew it on the server; no request reached the server"),
                 id="expired"),
])
def test_a_bad_certificate_is_refused_with_what_is_wrong_and_the_option(stand_ins: dict[str, StandIn], certs: Certs, tmp_path: Path,
                                                                        reliability, name: str, problem: str, option: str, says: str):
    run = info(stand_ins[name], certs, tmp_path)
    error = run.result.get("error") or {}
    assert run.failed and (error.get("type"), error.get("problem"), error.get("option")) == ("CertificateError", problem, option), run.output
    assert says in run.result["msg"] and "TLS certificate verification failed" in run.result["msg"]
    assert "validate_certs=false turns every check off" in run.result["msg"]
    assert error["sent"] is False and len(run.result["requests"]) == 1
    assert stand_ins[name].requests() == []  # the handshake failed: no HTTP request reached the server
    assert TOKEN not in run.output
    reliability.observed(f"refused: {problem}, option {option or 'none (server side)'}; no request reached the server")


@pytest.mark.reliability("tls", procedure="canary_rollback", case="the ops API's certificate is not trusted when rolling back",
                         expected="refused: not trusted, set ca_path; no rollback sent, not retried")
def test_a_rollback_to_an_untrusted_ops_api_sends_nothing_and_does_not_retry(stand_ins: dict[str, StandIn], certs: Certs, tmp_path: Path,
                                                                             reliability):
    run = run_module("canary_rollback", {"ops_api_url": stand_ins["untrusted"].url, "ca_path": str(certs.ca_file), "reason": "EMERGENCY_SLO_VIOLATION",
                                         "incident_id": INCIDENT, "deadline": 30}, tmp_path, env={"OFM_OPS_API_TOKEN": TOKEN})
    error = run.result.get("error") or {}
    assert run.failed and (error.get("type"), error.get("problem")) == ("CertificateError", "untrusted"), run.output[-3000:]
    assert "Set ca_path" in run.result["msg"]
    assert [entry["method"] for entry in run.result["requests"]] == ["POST"]  # one attempt: not retried until the 30 s deadline
    assert stand_ins["untrusted"].requests() == [] and not stand_ins["untrusted"].audit.exists()
    reliability.observed("refused: untrusted, option ca_path; one attempt, no rollback reached the ops API")
