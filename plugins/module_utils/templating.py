# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Messages rendered from Jinja2 templates that a team may override, strictly.

A template that uses a variable the context does not hold is refused before anything is sent, naming the template, the
unknown variable and the variables that exist: a message with an empty hole in it is worse than no message. Rendering is
plain Jinja2 (no Ansible filters), sandboxed, with ``StrictUndefined``, so an attribute missing from a dict fails the
same way at render time.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

try:
    from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
    from jinja2.sandbox import SandboxedEnvironment
except ImportError:  # pragma: no cover - ansible-core depends on Jinja2
    SandboxedEnvironment = None

MAX_TEMPLATE_BYTES = 256 * 1024


def read_template(path: str, option: str) -> str:
    """The text of the template file ``path`` (given by ``option``), or an InputError naming it."""
    try:
        if os.path.getsize(path) > MAX_TEMPLATE_BYTES:
            raise InputError(f"{option}: the template {path} is larger than {MAX_TEMPLATE_BYTES // 1024} KiB", option=option)
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"{option}: cannot read the template {path}: {exc.strerror}", option=option,
                         accepted="a readable Jinja2 file") from exc


def render(source: str, context: Mapping[str, Any], *, option: str, name: str, extra: Optional[Mapping[str, Any]] = None) -> str:
    """``source`` rendered with ``context`` (and ``extra``); unknown variables and syntax errors raise InputError naming
    ``option`` (the option or message that holds the template) and ``name`` (its file, or 'inline')."""
    variables = {**context, **(extra or {})}
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False,
                                       trim_blocks=True, lstrip_blocks=True)
    known = ", ".join(sorted(variables)) or "none"
    try:
        parsed = environment.parse(source)
        unknown = sorted(meta.find_undeclared_variables(parsed) - set(variables) - set(environment.globals))
        if unknown:
            raise InputError(f"{option}: the template {name} uses the unknown variable(s) {', '.join(unknown)}; known variables: {known}",
                             option=option, accepted=known)
        return environment.from_string(source).render(variables).strip()
    except TemplateSyntaxError as exc:
        raise InputError(f"{option}: the template {name} is not valid Jinja2 (line {exc.lineno}: {exc.message})", option=option) from exc
    except UndefinedError as exc:
        raise InputError(f"{option}: the template {name} uses an undefined value ({exc.message}); known variables: {known}",
                         option=option, accepted=known) from exc
