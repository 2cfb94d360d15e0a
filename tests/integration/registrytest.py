"""The real Docker registry (Debian package docker-registry) on loopback for one test module, and pushes of tiny images through its HTTP API."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests
import yaml
from kubelab import free_port, listening

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@contextmanager
def docker_registry(workdir: Path) -> Iterator[str]:
    """Run ``docker-registry serve`` with its own config and storage under ``workdir``; yield its URL. Skips, saying why, when not installed."""
    binary = shutil.which("docker-registry")
    if binary is None:
        reason = "docker-registry is not installed (apt-get install docker-registry; scripts/bootstrap.sh installs it)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    port = free_port()
    config = workdir / "registry.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "log": {"level": "warn"}, "http": {"addr": f"127.0.0.1:{port}"},
                                      "storage": {"filesystem": {"rootdirectory": str(workdir / "storage")}, "delete": {"enabled": True}}}))
    log = workdir / "registry.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=output, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 15
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"docker-registry did not start: {log.read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _push_blob(url: str, repository: str, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{url}/v2/{repository}/blobs/uploads/", timeout=10)
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    location = location if location.startswith("http") else url + location
    done = requests.put(location, params={"digest": digest}, data=data, headers={"Content-Type": "application/octet-stream"}, timeout=10)
    assert done.status_code == 201, done.text
    return {"digest": digest, "size": len(data)}


def push_image(url: str, image: str) -> str:
    """Push a tiny image (a config and one layer) as ``repository:tag``; return its manifest digest."""
    repository, tag = image.rsplit(":", 1)
    config = _push_blob(url, repository, json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"image": image}},
                                                     "rootfs": {"type": "layers", "diff_ids": []}}).encode())
    layer = _push_blob(url, repository, f"layer of {image}".encode())
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_V2,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **layer}]}
    answer = requests.put(f"{url}/v2/{repository}/manifests/{tag}", data=json.dumps(manifest), headers={"Content-Type": MANIFEST_V2}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.headers["Docker-Content-Digest"]
