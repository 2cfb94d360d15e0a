# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import this collection's own Python on the controller with Python's bytecode cache.

ansible-core's collection loader compiles a collection's module from its source on every import, in every run: it keeps
no bytecode. On the emergency path that is about 80 ms of compiling the collection's modules and module_utils before the
rollback's request (measured in bench/README.md). ``install()`` puts a finder ahead of ansible-core's that hands this
collection's plain module files (not packages, which stay ansible-core's) to Python's own source loader: it reads
``__pycache__`` next to the source and writes it there when it may. Where it may not (a read-only install, or
``PYTHONDONTWRITEBYTECODE`` set) a module compiles as before, unless its bytecode was made beforehand with
``python -m compileall`` (scripts/bootstrap.sh does that for a checkout). Python checks a cached file against the
source's modification time and size, so an edited file is compiled again.

Everything else is left to ansible-core: a name whose file does not exist (a redirect of meta/runtime.yml, a package,
another collection) is not this finder's.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

PREFIX = "ansible_collections.ofm.rollback.plugins."
# plugins/, as the collection's path names it: symlinks are kept, since modules find ansible_collections/ from __file__
ROOT = Path(os.path.abspath(__file__)).parents[1]


class CachedSourceFinder(importlib.abc.MetaPathFinder):
    """Finds ``ansible_collections.ofm.rollback.plugins.<dir>[.<dir>].<module>`` files for the standard source loader."""

    def __init__(self, root: Path = ROOT, prefix: str = PREFIX) -> None:
        self.root = root
        self.prefix = prefix

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith(self.prefix):
            return None
        source = self.root.joinpath(*fullname[len(self.prefix):].split(".")).with_suffix(".py")
        if not source.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, str(source))  # a SourceFileLoader: __file__, __cached__


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once per process (a forked worker inherits it)."""
    if not any(isinstance(finder, CachedSourceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, CachedSourceFinder())
