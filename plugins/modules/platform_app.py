#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_app
short_description: Read or restore the webhook subscriptions and OAuth settings of OFM's Meta (Instagram) or TikTok app
version_added: 0.1.0
description:
  - Reads an app's settings - C(redirect_uris) and C(scopes) (the OAuth app settings), C(subscriptions) for Meta (the Graph
    API's webhook subscriptions, C({object {callback_url, fields}})) and C(webhook_url) for TikTok - and, with O(settings),
    sets them. Without O(settings) it only reads; the result's RV(settings) is what a later task restores.
  - Settings not named in O(settings) are left as they are; C(subscriptions), when named, is the whole set (objects not
    named are unsubscribed). Lists are compared as sets, so a second run changes nothing.
  - "Meta: one POST of the OAuth settings, and per subscription object a DELETE of the fields it loses and a POST of its
    callback URL and the fields it gains (that POST needs O(verify_token)). TikTok: one PUT of the settings."
  - The webhook subscriptions follow the Graph API (C(/v19.0/{app-id}/subscriptions), app access token). The OAuth
    settings of both platforms and TikTok's webhook URL live in the platforms' developer consoles, which have no public
    API; the paths used for them are the shapes of the collection's lab stand-in (C(/v19.0/{app-id}/oauth_settings),
    C(/v2/apps/{client-key}/settings/)), for a deployment that serves them through O(api_url).
  - The app secret is never in the result. Restoring the platform secrets OFM holds is the C(secrets) kind of
    M(ofm.rollback.config_restore); the configuration snapshot kind C(platform_apps) holds what this module reads.
  - In check mode nothing is written; the result and the diff say what would change.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.platform
  - ofm.rollback.http_client
options:
  settings:
    description:
      - The settings to set, by name - C(redirect_uris), C(scopes), and C(subscriptions) (Meta) or C(webhook_url) (TikTok) -
        or the RV(settings) of an earlier read, to restore it.
    type: dict
  verify_token:
    description:
      - Meta only - the verify token the webhook endpoint checks, needed when a subscription is made or gains fields.
      - This value is a secret and is never logged.
    type: str
attributes:
  check_mode:
    support: full
    description: The module reads the app and reports the writes it would send, without sending them.
  diff_mode:
    support: full
    description: Shows the settings that change, before and after.
"""

EXAMPLES = r"""
- name: Keep the Instagram app's settings before the change
  ofm.rollback.platform_app:
    platform: meta
    app_id: "{{ ofm_meta_app_id }}"
    app_secret: "{{ ofm_meta_app_secret }}"
  register: meta_before

- name: Put them back
  ofm.rollback.platform_app:
    platform: meta
    app_id: "{{ ofm_meta_app_id }}"
    app_secret: "{{ ofm_meta_app_secret }}"
    verify_token: "{{ ofm_meta_verify_token }}"
    settings: "{{ meta_before.settings }}"

- name: Point TikTok's webhook back at production
  ofm.rollback.platform_app:
    platform: tiktok
    app_id: "{{ ofm_tiktok_client_key }}"
    app_secret: "{{ ofm_tiktok_client_secret }}"
    settings:
      webhook_url: https://hooks.ofm.social/tiktok
"""

RETURN = r"""
platform:
  description: The platform.
  returned: success
  type: str
app_id:
  description: The app ID or client key.
  returned: success
  type: str
settings:
  description: The settings after the task (read back; in check mode, what they would be).
  returned: success
  type: dict
  sample: {"redirect_uris": ["https://app.ofm.social/oauth/tiktok/callback"], "scopes": ["user.info.basic", "video.publish"],
           "webhook_url": "https://hooks.ofm.social/tiktok"}
previous:
  description: The settings before the task.
  returned: success
  type: dict
planned:
  description: The writes the task sent (or, in check mode, would send).
  returned: success
  type: list
  elements: dict
calls:
  description: The writes sent.
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.apps import client_from_params, set_app
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.common import PLATFORM_SPEC

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **PLATFORM_SPEC,
    "settings": {"type": "dict"},
    "verify_token": {"type": "str", "no_log": True},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    client = None
    try:
        client = client_from_params(params, params["verify_token"])
        change = set_app(client, params["settings"], check_mode=module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(client and client.calls), calls=client.calls if client else [])
    module.exit_json(**change.result(client.calls))


if __name__ == "__main__":
    main()
