# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.kube_rest.KUBE_SPEC
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file.
      - If not set, the value of the E(K8S_AUTH_KUBECONFIG) or E(KUBECONFIG) environment variable is used, then C(~/.kube/config)
        unless O(host) is set.
    type: path
  context:
    description:
      - The kubeconfig context to use; its current context when not set.
      - If not set, the value of the E(K8S_AUTH_CONTEXT) environment variable is used.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, such as V(https://k8s.example.com:6443); overrides the kubeconfig's server.
      - If not set, the value of the E(K8S_AUTH_HOST) environment variable is used.
    type: str
  api_key:
    description:
      - Bearer token for the API server, such as a service account token; overrides the kubeconfig's credentials.
      - If not set, the value of the E(K8S_AUTH_API_KEY) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  ca_cert:
    description:
      - Path to the CA certificate that signed the API server's certificate.
    type: path
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
    type: bool
    default: true
"""
