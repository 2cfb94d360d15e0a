# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.platforms.common.PLATFORM_SPEC other than those of HTTP_CLIENT_SPEC (fragment ofm.rollback.http_client)
    DOCUMENTATION = r"""
options:
  platform:
    description:
      - The platform of the app, V(meta) (Instagram, through the Graph API) or V(tiktok) (the Open API v2).
    type: str
    required: true
    choices: [meta, tiktok]
  api_url:
    description:
      - The platform API's base URL; C(https://graph.facebook.com) for Meta and C(https://open.tiktokapis.com) for TikTok when
        not set.
    type: str
  app_id:
    description:
      - The app, by its Meta app ID or its TikTok client key.
    type: str
    required: true
  app_secret:
    description:
      - The Meta app secret or the TikTok client secret. With Meta the app access token is C(app_id|app_secret); with
        TikTok it fetches a client access token.
      - This value is a secret and is never logged.
    type: str
    required: true
"""
