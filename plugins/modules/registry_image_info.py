#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_image_info
short_description: Tell whether container images exist in a registry (Docker Registry HTTP API v2)
version_added: 0.1.0
description:
  - For each image, sends C(HEAD /v2/<repository>/manifests/<tag or digest>) to the registry with an C(Accept) header
    listing the OCI image index and manifest and the Docker manifest list and manifest v2 media types, as C(docker pull) does.
    HTTP 200 means the image exists (its digest is returned), HTTP 404 that it does not.
  - Use it before a rollback to prove that the images of the version to roll back to can still be pulled.
  - The registry host part of an image reference, if any, is ignored; every image is looked up in O(registry_url)
    (a mirror or a pull-through cache holds the same repositories).
  - The module only reads; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_registry
  - ofm.rollback.http_client
options:
  registry_url:
    description:
      - Base URL of the registry's HTTP API, such as V(https://registry.example.com) (the module adds C(/v2/...)).
      - If not set, the value of the E(OFM_REGISTRY_URL) environment variable is used.
    type: str
    required: true
  images:
    description:
      - The images to look up, as written in a pod spec, such as V(registry.example.com/ofm/api:2.4.0), V(ofm/api:2.4.0)
        or V(ofm/api@sha256:...). Without a tag or digest the tag is V(latest).
    type: list
    elements: str
    required: true
  registry_username:
    description:
      - User name for the registry. It is sent with basic authentication, and to the registry's token service when the
        registry asks for a bearer token.
    type: str
  registry_password:
    description:
      - Password or access token of O(registry_username).
      - If not set, the value of the E(OFM_REGISTRY_PASSWORD) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  registry_token:
    description:
      - "A bearer token sent as C(Authorization: Bearer <token>) instead of basic authentication."
      - If not set, the value of the E(OFM_REGISTRY_TOKEN) environment variable is used.
      - This value is a secret and is never logged.
    type: str
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode sends the same requests.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - A registry that answers HTTP 401 with a C(WWW-Authenticate Bearer) challenge gets a pull token from the realm it names,
    with the basic credentials when they are set, and the request is sent again with that token.
seealso:
  - module: ofm.rollback.k8s_rollout_info
  - name: OCI distribution specification, checking if content exists
    description: The C(HEAD) of a manifest.
    link: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#checking-if-content-exists-in-the-registry
"""

EXAMPLES = r"""
- name: Prove that the images of the stable version can still be pulled
  ofm.rollback.registry_image_info:
    registry_url: https://registry.ofm.social
    registry_username: rollback-bot
    registry_password: "{{ ofm_registry_password }}"
    images:
      - registry.ofm.social/ofm-social-os/api:2.3.1
  register: stable_images

- name: Stop before changing anything when one is missing
  ansible.builtin.assert:
    that: stable_images.missing | length == 0
    fail_msg: "Not in the registry: {{ stable_images.missing | join(', ') }}"
"""

RETURN = r"""
images:
  description: One entry per image, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    image: {description: The image as given., type: str, returned: always}
    repository: {description: The repository looked up., type: str, returned: always}
    reference: {description: The tag or digest looked up., type: str, returned: always}
    exists: {description: Whether the registry holds a manifest for it., type: bool, returned: always}
    digest: {description: The manifest's digest (C(Docker-Content-Digest)); null when missing., type: str, returned: always}
    media_type: {description: "The manifest's media type, such as V(application/vnd.oci.image.index.v1+json); null when missing.",
                 type: str, returned: always}
    status: {description: The HTTP status of the C(HEAD)., type: int, returned: always}
  sample: [{image: "ofm/api:2.3.1", repository: ofm/api, reference: 2.3.1, exists: true, status: 200,
            digest: "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
            media_type: application/vnd.docker.distribution.manifest.v2+json}]
missing:
  description: The images the registry does not hold, as given.
  returned: success
  type: list
  elements: str
  sample: ["ofm/api:9.9.9"]
all_exist:
  description: Whether every image exists.
  returned: success
  type: bool
requests:
  description: Every HTTP attempt made to the registry and its token service, with secrets removed.
  returned: always
  type: list
  elements: dict
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.registry import RegistryClient, parse_image

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "registry_url": {"type": "str", "required": True, "fallback": (env_fallback, ["OFM_REGISTRY_URL"])},
    "images": {"type": "list", "elements": "str", "required": True},
    "registry_username": {"type": "str"},
    "registry_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["OFM_REGISTRY_PASSWORD"])},
    "registry_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["OFM_REGISTRY_TOKEN"])},
    **HTTP_CLIENT_SPEC,
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                          mutually_exclusive=[("registry_token", "registry_username")],
                          required_together=[("registry_username", "registry_password")])
    params = module.params
    client: Optional[RegistryClient] = None
    try:
        if not params["images"]:
            raise InputError("images is empty", option="images", accepted="one image reference or more, such as ofm/api:2.4.0")
        refs = [parse_image(image) for image in params["images"]]
        client = RegistryClient.from_params(params)
        found = [client.image(ref).as_dict() for ref in refs]
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=client.requests if client else [])
    missing = [entry["image"] for entry in found if not entry["exists"]]
    module.exit_json(changed=False, images=found, missing=missing, all_exist=not missing, requests=client.requests,
                     msg=f"{len(found) - len(missing)} of {len(found)} image(s) found in {client.registry_url}"
                         + (f"; missing: {', '.join(missing)}" if missing else ""))


if __name__ == "__main__":
    main()
