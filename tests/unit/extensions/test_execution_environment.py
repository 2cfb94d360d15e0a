# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""extensions/ee/execution-environment.yml through ansible-builder: the build context is created (no container engine is
needed for that), it pins the ansible-core this suite runs, and what the image's build would install for the collection
(ansible-builder's own introspection, run here on the built collection) holds its Python requirements, pgBackRest and the
PostgreSQL client."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEFINITION = REPO_ROOT / "extensions" / "ee" / "execution-environment.yml"


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "ANSIBLE_CONFIG"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(name="context", scope="module")
def fixture_context(tmp_path_factory) -> Path:
    """ansible-builder create's context for the definition, with the collection built next to a copy of it."""
    work = tmp_path_factory.mktemp("ee")
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(REPO_ROOT), cwd=work)
    definition_dir = work / "ee"
    definition_dir.mkdir()
    shutil.copy(DEFINITION, definition_dir / "execution-environment.yml")
    shutil.copy(next(work.glob("ofm-rollback-*.tar.gz")), definition_dir / "ofm-rollback.tar.gz")
    if shutil.which("ansible-builder", path=str(BIN)) is None:
        pytest.fail("ansible-builder is not installed (requirements-dev.txt)")
    run(str(BIN / "ansible-builder"), "create", "-f", str(definition_dir / "execution-environment.yml"), "-c", str(work / "context"),
        cwd=definition_dir)
    return work / "context"


def test_the_context_pins_the_ansible_core_and_runner_this_suite_runs(context):
    containerfile = next(path for path in (context / "Containerfile", context / "Dockerfile") if path.exists()).read_text()
    assert f"ansible-core=={importlib.metadata.version('ansible-core')}" in containerfile
    definition = yaml.safe_load(DEFINITION.read_text())
    assert definition["version"] == 3
    assert definition["dependencies"]["ansible_runner"]["package_pip"].startswith("ansible-runner==")
    assert (context / "_build" / "collections" / "ofm-rollback.tar.gz").is_file()
    assert "/usr/local/bin/helm" in containerfile and "helm version" in containerfile
    # the collection's bytecode is made where ansible-builder installs the collections, after they are installed
    assert "ANSIBLE_GALAXY_CLI_COLLECTION_OPTS" in containerfile or "collection install" in containerfile
    installs_to = "/usr/share/ansible/collections"
    assert installs_to in containerfile
    compiled = containerfile.index(f"compileall -q {installs_to}/ansible_collections/ofm/rollback/plugins")
    assert compiled > containerfile.index("COPY --from=galaxy")


def test_the_build_installs_the_collections_requirements_pgbackrest_and_the_postgresql_client(context, tmp_path):
    collections = tmp_path / "collections"
    run(str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(collections),
        str(context / "_build" / "collections" / "ofm-rollback.tar.gz"), cwd=tmp_path)
    run(sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(collections), "--sanitize",
        "--write-bindep", str(tmp_path / "bindep.txt"), "--write-pip", str(tmp_path / "requirements.txt"), cwd=tmp_path)
    system = (tmp_path / "bindep.txt").read_text()
    python = (tmp_path / "requirements.txt").read_text()
    assert "pgbackrest [platform:dpkg platform:rpm]" in system
    assert "postgresql-client [platform:dpkg]" in system and "postgresql [platform:rpm]" in system
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert line.split("#")[0].strip() in python, line
