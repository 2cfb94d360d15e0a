# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.traffic.WAIT_SPEC
    DOCUMENTATION = r"""
options:
  wait_for:
    description:
      - V(none) does not wait (the split is read once).
      - V(all_on_stable) reads the split every O(wait_interval) until all traffic is on stable, that is until the canary's
        configured weight is 0 and its measured share is at most O(max_canary_share). An unknown measured share does not count as 0.
      - The module fails when O(wait_timeout) runs out, and returns the last reading.
      - In check mode the module does not wait, since nothing was changed that could make the condition hold.
    type: str
    choices: [none, all_on_stable]
    default: none
  wait_timeout:
    description:
      - Seconds to wait for O(wait_for).
      - The measured share lags a change of weights by O(measure_window) and a scrape interval, so allow at least that.
    type: float
    default: 300.0
  wait_interval:
    description:
      - Seconds between two readings while waiting.
    type: float
    default: 2.0
  max_canary_share:
    description:
      - Largest measured canary share, from 0 to 1, that still counts as all traffic on stable.
    type: float
    default: 0.0
"""
