"""The Kubernetes API test server, refereed by the real helm v3 (strategic-merge patches) and v4 (server-side apply).

Each test starts the server on a free port; helm's own answers (exit status, history, the objects it
wrote) are what a real cluster gives. Skipped, with the reason printed, when a helm binary is missing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from helmtest import BROKEN_IMAGE, HELM_MAJORS, Helm, helm_binary, kube_server, read_release, release_secrets, rendered


@pytest.fixture(params=HELM_MAJORS)
def helm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Helm]:
    binary = helm_binary(request.param)
    with kube_server(tmp_path) as kube:
        yield Helm(binary, kube, tmp_path / "helm-home")


def release_record(helm: Helm, release: str, revision: int) -> dict[str, Any]:
    return read_release(helm, release, revision)[1]


def test_install_upgrade_rollback_round_trip(helm: Helm) -> None:
    helm.install("web")
    helm.upgrade("web", "message=two", "image=ofm-social-os-api:2.0.0")
    assert rendered(helm, "web") == ("two", "ofm-social-os-api:2.0.0")

    helm("rollback", "web", "1", "--namespace", "default", "--wait", "--timeout", "20s")

    assert rendered(helm, "web") == ("hello", "ofm-social-os-api:1.0.0")
    assert helm.statuses("web") == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    assert helm.history("web")[-1]["description"] == "Rollback to 1"


def test_releases_are_secrets_labelled_for_helm(helm: Helm) -> None:
    helm.install("web")
    helm.upgrade("web", "message=two")

    assert sorted(item["metadata"]["labels"]["version"] for item in release_secrets(helm, "web")) == ["1", "2"]
    assert release_record(helm, "web", 2)["config"] == {"message": "two"}


def test_failed_upgrade_is_recorded_and_rolled_back(helm: Helm) -> None:
    helm.install("web")

    failed = helm.upgrade("web", f"image={BROKEN_IMAGE}", timeout="3s", check=False)

    assert failed.returncode != 0
    assert helm.statuses("web") == [(1, "deployed"), (2, "failed")]
    helm("rollback", "web", "--namespace", "default", "--wait", "--timeout", "20s")
    assert helm.statuses("web")[-1] == (3, "deployed")
    assert rendered(helm, "web")[1] == "ofm-social-os-api:1.0.0"


def test_helm_status_reads_the_deployed_release(helm: Helm) -> None:
    helm.install("web", "message=status")

    status = json.loads(helm("status", "web", "--namespace", "default", "-o", "json").stdout)

    assert status["info"]["status"] == "deployed"
    assert status["config"] == {"message": "status"}
