# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Ansible ``diff`` of two mappings, key by key, and the leaves where two nested values differ."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

ABSENT = object()


def field_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"before": ..., "after": ...}`` of the top-level keys that differ."""
    keys = [key for key in dict.fromkeys([*before, *after]) if before.get(key) != after.get(key)]
    return {"before": {key: before[key] for key in keys if key in before}, "after": {key: after[key] for key in keys if key in after}}


def leaf_changes(before: Any, after: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """``(path, before, after)`` of each place two JSON values differ, descending into mappings (``a.b.c``) only; a side a
    mapping lacks is ``ABSENT``. Equal values give nothing."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in dict.fromkeys([*before, *after]):
            yield from leaf_changes(before.get(key, ABSENT), after.get(key, ABSENT), f"{path}.{key}" if path else str(key))
    elif before != after:
        yield path, before, after
