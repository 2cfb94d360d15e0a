#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_window_info
short_description: Tell whether now is inside a weekly change window
version_added: 0.1.0
description:
  - A change window opens on the given O(days) at O(start) and closes at O(end), local time in O(timezone), such as a
    low-traffic period for planned changes.
  - A window whose O(end) is not after its O(start) runs overnight (V(22:00) to V(02:00) closes on the next day); an O(end)
    equal to O(start) makes a 24-hour window.
  - Returns whether the current time (of the host that runs the module) is inside, and when the window closes or opens next.
  - The module only reads the clock; it never reports a change and never fails because the window is closed.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  days:
    description:
      - The weekdays the window opens on, as V(mon) ... V(sun) or full names, or V(all), V(weekdays), V(weekend).
    type: list
    elements: str
    required: true
  start:
    description:
      - When the window opens, C(HH:MM) local time in O(timezone).
    type: str
    required: true
  end:
    description:
      - When the window closes, C(HH:MM) local time in O(timezone); V(24:00) is midnight at the end of the day.
    type: str
    required: true
  timezone:
    description:
      - The IANA time zone of O(start) and O(end), such as V(Europe/Paris); daylight saving time is applied.
    type: str
    default: UTC
attributes:
  check_mode:
    support: full
    description: The module only reads the clock.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - module: ofm.rollback.slo_check
"""

EXAMPLES = r"""
- name: Is this a low-traffic window (Tuesday to Thursday, 02:00-05:00 Paris time)?
  ofm.rollback.change_window_info:
    days: [tue, wed, thu]
    start: "02:00"
    end: "05:00"
    timezone: Europe/Paris
  register: window

- name: Stop outside the window
  ansible.builtin.assert:
    that: window.inside
    fail_msg: "Outside the change window {{ window.window }}; it opens next at {{ window.opens_at }}."
"""

RETURN = r"""
inside:
  description: Whether now is inside the window.
  returned: success
  type: bool
  sample: false
now:
  description: The current time in the window's zone, ISO 8601.
  returned: success
  type: str
  sample: "2025-05-06T14:03:11+02:00"
weekday:
  description: Today's weekday in the window's zone, V(mon) ... V(sun).
  returned: success
  type: str
  sample: tue
window:
  description: The window in words.
  returned: success
  type: str
  sample: "tue,wed,thu 02:00-05:00 Europe/Paris"
closes_at:
  description: When the current window closes, ISO 8601; null when outside.
  returned: success
  type: str
opens_at:
  description: When the window opens next, ISO 8601; null when inside.
  returned: success
  type: str
  sample: "2025-05-07T02:00:00+02:00"
"""

from datetime import datetime, timezone
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.change_window import parse_window
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "days": {"type": "list", "elements": "str", "required": True},
    "start": {"type": "str", "required": True},
    "end": {"type": "str", "required": True},
    "timezone": {"type": "str", "default": "UTC"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        window = parse_window(params["days"], params["start"], params["end"], params["timezone"])
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    result = window.check(datetime.now(timezone.utc))
    where = f"inside, it closes at {result['closes_at']}" if result["inside"] else f"outside, it opens next at {result['opens_at']}"
    module.exit_json(changed=False, msg=f"{result['now']} is {where} (window {result['window']})", **result)


if __name__ == "__main__":
    main()
