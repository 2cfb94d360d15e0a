# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.helm.HELM_CONNECTION_SPEC
    DOCUMENTATION = r"""
options:
  binary_path:
    description:
      - The helm binary to run, helm v3 or v4; a name without a slash is looked up in the directories of the search path.
    type: path
    default: helm
  kubeconfig:
    description:
      - Path of the kubeconfig helm uses, passed as C(--kubeconfig).
      - If not set, the value of the E(KUBECONFIG) environment variable is used; when neither is set, helm reads C(~/.kube/config).
    type: path
  context:
    description:
      - The kubeconfig context, passed as C(--kube-context); the current context if not set.
    type: str
  namespace:
    description:
      - The namespace of the release, passed as C(--namespace).
    type: str
    required: true
requirements:
  - helm v3 or v4 on the managed host
"""
