"""The end-to-end suite of the OFM Social OS API's critical paths, run by ofm.rollback.test_suite after a rollback.

Real HTTP against the service at $OFM_E2E_BASE_URL (in the lab: the HAProxy frontend). Only the standard library and
pytest, so it runs wherever pytest does:

    OFM_E2E_BASE_URL=http://127.0.0.1:18080 pytest -q -p no:cacheprovider lab/e2e/test_critical_paths.py --junitxml=e2e.xml

Each test asserts what a client of the API relies on; the lab fault ``content`` makes test_posts_have_what_clients_show fail.
No test sends a request the API refuses (a 4xx, an unsigned webhook): the suite runs during the post-rollback validation,
whose error-pattern and webhook-signature checks would count it.
"""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Any, Optional

import pytest

PLATFORMS = {"instagram", "reddit", "tiktok", "x"}
POST_STATUSES = {"draft", "scheduled", "published", "failed"}
TIMEOUT = float(os.environ.get("OFM_E2E_TIMEOUT", "10"))


@pytest.fixture(scope="module", name="base_url")
def fixture_base_url() -> str:
    url = os.environ.get("OFM_E2E_BASE_URL", "").rstrip("/")
    if not url.startswith(("http://", "https://")):
        pytest.fail("set OFM_E2E_BASE_URL to the API's base URL, e.g. https://api.ofm.social")
    return url


def call(base_url: str, method: str, path: str, body: Any = None, headers: Optional[dict[str, str]] = None) -> tuple[int, Any]:
    """Status and parsed JSON body (text when not JSON) of one request; HTTP errors are answers, not exceptions."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def test_health_says_ok(base_url: str) -> None:
    status, body = call(base_url, "GET", "/health")
    assert status == 200, body
    assert body["ok"] is True


def test_posts_have_what_clients_show(base_url: str) -> None:
    status, posts = call(base_url, "GET", "/api/posts")
    assert status == 200, posts
    assert isinstance(posts, list) and posts, "the post list is empty"
    for post in posts:
        assert isinstance(post.get("id"), int), f"a post without an integer id: {post}"
        assert post.get("platform") in PLATFORMS, f"post {post.get('id')} has platform {post.get('platform')!r}"
        assert post.get("status") in POST_STATUSES, f"post {post.get('id')} has status {post.get('status')!r}"


def test_publishing_a_post_queues_a_job(base_url: str) -> None:
    status, body = call(base_url, "POST", "/api/posts/publish", {"post_id": 101, "platform": "tiktok"})
    assert status == 202, body
    assert body["queued"] is True and re.fullmatch(r"[0-9a-f]{32}", body["job_id"]), body
