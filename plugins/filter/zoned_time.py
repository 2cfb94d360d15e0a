# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ofm.rollback.zoned_time filter: a typed time, read in a time zone, as a dict (documented in zoned_time.yml)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import zoned


def zoned_time(value: Any, zone: str = "UTC", option: str = "target") -> dict[str, Any]:
    """``value`` with an offset as given, without one as a wall-clock time in ``zone``; ambiguous or skipped times fail."""
    try:
        return zoned(str(value), zone, option=option).as_dict()
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"zoned_time": zoned_time}
