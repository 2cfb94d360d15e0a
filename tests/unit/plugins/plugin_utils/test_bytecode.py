# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's Python with Python's bytecode cache (plugin_utils/bytecode.py): which names the finder takes, that a
cached file is read, that an edited source is compiled again, and that a real run's modules come through it."""
from __future__ import annotations

import compileall
import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ansible_collections.ofm.rollback.plugins.plugin_utils import bytecode

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture()
def probe(tmp_path, monkeypatch):
    """A package ``bytecode_probe`` whose modules live in tmp_path, found by a finder rooted there."""
    package = types.ModuleType("bytecode_probe")
    package.__path__ = []  # a package that finds nothing itself: every module is the finder's
    monkeypatch.setitem(sys.modules, "bytecode_probe", package)
    finder = bytecode.CachedSourceFinder(tmp_path, "bytecode_probe.")
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    yield tmp_path
    for name in [name for name in sys.modules if name.startswith("bytecode_probe.")]:
        del sys.modules[name]


def _import_fresh(name: str) -> types.ModuleType:
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_only_this_collections_module_files_are_taken():
    finder = bytecode.CachedSourceFinder()
    assert finder.find_spec("ansible.module_utils.basic", None) is None
    assert finder.find_spec("ansible_collections.community.general.plugins.modules.ufw", None) is None
    # packages stay ansible-core's (their __path__ is its business), and so does a name without a file (a redirect)
    assert finder.find_spec("ansible_collections.ofm.rollback.plugins.module_utils", None) is None
    assert finder.find_spec("ansible_collections.ofm.rollback.plugins.modules.no_such_module", None) is None
    spec = finder.find_spec("ansible_collections.ofm.rollback.plugins.module_utils.errors", None)
    assert isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    assert spec.origin == str(bytecode.ROOT / "module_utils" / "errors.py")
    assert spec.cached.endswith(".pyc") and "__pycache__" in spec.cached


def test_install_puts_one_finder_first(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", [finder for finder in sys.meta_path if not isinstance(finder, bytecode.CachedSourceFinder)])
    bytecode.install()
    bytecode.install()
    assert isinstance(sys.meta_path[0], bytecode.CachedSourceFinder)
    assert sum(isinstance(finder, bytecode.CachedSourceFinder) for finder in sys.meta_path) == 1


def test_the_cache_is_written_and_read(probe, monkeypatch):
    source = probe / "sample.py"
    source.write_text("VALUE = 1\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    module = _import_fresh("bytecode_probe.sample")
    assert module.VALUE == 1 and module.__file__ == str(source)
    assert Path(module.__cached__).is_file()
    # Same size and modification time, other text: Python trusts the cache, so the old value proves the cache was read
    stat = source.stat()
    source.write_text("VALUE = 2\n")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _import_fresh("bytecode_probe.sample").VALUE == 1


def test_an_edited_source_is_compiled_again(probe, monkeypatch):
    source = probe / "sample.py"
    source.write_text("VALUE = 1\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert _import_fresh("bytecode_probe.sample").VALUE == 1
    source.write_text("VALUE = 'edited'\n")
    assert _import_fresh("bytecode_probe.sample").VALUE == "edited"


def test_precompiled_bytecode_is_read_where_none_may_be_written(probe, monkeypatch):
    """PYTHONDONTWRITEBYTECODE (or a read-only install): what compileall made beforehand is still used."""
    source = probe / "sample.py"
    source.write_text("VALUE = 1\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module = _import_fresh("bytecode_probe.sample")
    assert not Path(module.__cached__).exists()  # nothing written
    assert compileall.compile_file(str(source), quiet=1)
    stat = source.stat()
    source.write_text("VALUE = 3\n")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _import_fresh("bytecode_probe.sample").VALUE == 1


def test_a_run_imports_the_collections_python_through_the_cache(tmp_path):
    """ansible-playbook with the audit callback: what is imported after the callback installed the finder (here the
    module of the task's action plugin) comes from the source loader (and so from __pycache__), with __file__ on the
    collection's path."""
    playbook = tmp_path / "probe.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ofm.rollback.input_check:\n        inputs: []\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "OFM_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    probe_code = (
        "import json, sys\n"
        "from ansible.cli.playbook import main\n"
        "def report(out):\n"
        "    found = {name: [type(module.__spec__.loader).__name__, module.__file__] for name, module in list(sys.modules.items())\n"
        "             if name.startswith('ansible_collections.ofm.rollback.plugins.') and getattr(module, '__spec__', None)\n"
        "             and getattr(module, '__file__', None)}\n"
        "    open(out, 'w').write(json.dumps(found))\n"
        "out, sys.argv = sys.argv[1], ['ansible-playbook', sys.argv[2]]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    report(out)\n")
    loaders = tmp_path / "loaders.json"
    run = subprocess.run([sys.executable, "-c", probe_code, str(loaders), str(playbook)],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    seen = json.loads(loaders.read_text())
    # the action plugin's module, imported (preloaded) in the controller after the audit callback installed the finder
    loader, path = seen["ansible_collections.ofm.rollback.plugins.modules.input_check"]
    assert loader == "SourceFileLoader"
    assert path.endswith("ansible_collections/ofm/rollback/plugins/modules/input_check.py")
    assert Path(tmp_path / "audit.jsonl").is_file()  # the callback worked with the modules it imported this way
