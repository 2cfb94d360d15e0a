# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Ansible ``diff`` of two mappings, key by key."""

from __future__ import annotations

from typing import Any, Mapping


def field_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"before": ..., "after": ...}`` of the top-level keys that differ."""
    keys = [key for key in dict.fromkeys([*before, *after]) if before.get(key) != after.get(key)]
    return {"before": {key: before[key] for key in keys if key in before}, "after": {key: after[key] for key in keys if key in after}}
