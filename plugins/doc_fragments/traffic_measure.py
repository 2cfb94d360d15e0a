# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.traffic.TRAFFIC_MEASURE_SPEC
    DOCUMENTATION = r"""
options:
  measure_window:
    description:
      - Range of the C(rate) window of the measurement, a Prometheus duration (V(30s), V(1m)) or a number of seconds.
      - A shorter window follows a traffic shift sooner; it should span a few scrape intervals.
    type: str
    default: 30s
  version_label:
    description:
      - Prometheus label that tells the versions apart; its values V(stable) and V(canary) name them.
    type: str
    default: version
  request_metric:
    description:
      - Counter of the requests served, per version.
    type: str
    default: http_requests_total
  selector:
    description:
      - More label matchers, without braces, that narrow the measurement to this service.
      - "Example: V(namespace=\"ofm-production\",app_kubernetes_io_name=\"ofm-social-os\")."
    type: str
    default: ""
"""
