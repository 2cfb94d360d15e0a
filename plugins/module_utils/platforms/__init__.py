# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The third-party platforms OFM publishes to (Meta/Instagram, TikTok): one client each (``meta.py``, ``tiktok.py``) over
``http.py``, what the modules ``platform_app`` and ``platform_token_info`` do with them (``apps.py``, ``tokens.py``) and the
snapshot kind ``platform_apps`` (``kind.py``).

An app's settings, as the clients read and write them (``read_app``/``write_app``): ``redirect_uris`` and ``scopes`` (the
OAuth app settings: where the platform may send users back to, and the permissions the app requests), plus for Meta
``subscriptions`` (``{object: {"callback_url", "fields"}}``, the Graph API's webhook subscriptions) and for TikTok
``webhook_url``. The app secret is a credential of the client and never part of the settings.
"""
