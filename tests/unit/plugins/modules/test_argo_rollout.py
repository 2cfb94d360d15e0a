# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""argo_rollout: its documentation matches its argument spec (the logic is module_utils/argo.py, tested in test_argo.py)."""
from __future__ import annotations

from unithelpers import documented_options, mismatches

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube
from ansible_collections.ofm.rollback.plugins.modules import argo_rollout


def test_docs_match_the_argument_spec():
    assert mismatches(argo_rollout.ARGUMENT_SPEC, documented_options(argo_rollout, kube)) == []
