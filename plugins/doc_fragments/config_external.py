# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of module_utils.config.kinds.EXTERNAL_SPEC other than the AWS ones (doc fragment ofm.rollback.aws): one dict
    # option per external kind (kept in step by a unit test).
    DOCUMENTATION = r"""
options:
  cdn:
    description:
      - AWS CloudFront distribution configs, each with the ETag it was read with, through the AWS options.
      - A restore writes each distribution that differs with one C(update_distribution) whose C(If-Match) is the ETag read when
        the restore was planned, so a distribution someone edited between the plan and the write is refused with a diff.
      - With O(cdn.invalidate_paths), each distribution written is then invalidated and the restore waits until that is Completed.
    type: dict
    suboptions:
      distributions:
        description:
          - The distributions, each by its Id, one of its aliases or its comment.
        type: list
        elements: str
        required: true
      invalidate_paths:
        description:
          - Paths to invalidate after a distribution is restored, such as C(/*).
        type: list
        elements: str
      wait_timeout:
        description:
          - Seconds to wait for an invalidation to complete.
        type: float
        default: 600.0
      timeout:
        description:
          - Seconds to wait for AWS to answer a request.
        type: float
        default: 30.0
"""
