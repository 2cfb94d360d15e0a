# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry client against a fake Docker Registry v2: HEAD of manifests, basic auth, the Bearer token dance."""
from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest
from unithelpers import REGISTRY_DIGEST as DIGEST
from unithelpers import REGISTRY_PASSWORD as PASSWORD
from unithelpers import REGISTRY_MANIFEST_TYPE as MANIFEST
from unithelpers import REGISTRY_TOKEN as TOKEN
from unithelpers import FakeRegistry

from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import ClientAuth, HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.registry import ACCEPT, RegistryClient, bearer_challenge, parse_image


@pytest.fixture(name="registry")
def fixture_registry(request: pytest.FixtureRequest) -> Iterator[FakeRegistry]:
    server = FakeRegistry(getattr(request, "param", "none"))
    yield server
    server.close()


def client(url: str, **credentials: Any) -> RegistryClient:
    def make_http(base_url: str, auth: Optional[ClientAuth]) -> HttpClient:
        return HttpClient(base_url, auth=auth, retries=0, system="container registry")
    return RegistryClient(make_http, url, **credentials)


@pytest.mark.parametrize("image, host, repository, reference", [
    ("ofm/api:2.4.0", None, "ofm/api", "2.4.0"),
    ("registry.ofm.social/ofm-social-os/api:2.3.1", "registry.ofm.social", "ofm-social-os/api", "2.3.1"),
    ("localhost:5000/ofm/api", "localhost:5000", "ofm/api", "latest"),
    (f"ofm/api:2@{DIGEST}", None, "ofm/api", DIGEST),
    ("nginx", None, "nginx", "latest"),
])
def test_parse_image(image, host, repository, reference):
    ref = parse_image(image)
    assert (ref.host, ref.repository, ref.reference) == (host, repository, reference)


@pytest.mark.parametrize("image", ["Ofm/API:1", "ofm/api:bad tag", "ofm/api@sha256", ""])
def test_bad_image_names_the_option(image):
    with pytest.raises(InputError) as caught:
        parse_image(image)
    assert caught.value.option == "images"


def test_existing_and_missing_images(registry):
    registry_client = client(registry.url)
    found = registry_client.image(parse_image("127.0.0.1:5000/ofm/api:1"))
    missing = registry_client.image(parse_image("ofm/api:2"))
    assert (found.exists, found.digest, found.media_type, found.status) == (True, DIGEST, MANIFEST, 200)
    assert (missing.exists, missing.digest, missing.status) == (False, None, 404)
    assert [(r.method, r.path, r.headers["Accept"]) for r in registry.received] == [
        ("HEAD", "/v2/ofm/api/manifests/1", ACCEPT), ("HEAD", "/v2/ofm/api/manifests/2", ACCEPT)]


@pytest.mark.parametrize("registry", ["basic"], indirect=True)
def test_basic_auth(registry):
    assert client(registry.url, username="bot", password=PASSWORD).image(parse_image("ofm/api:1")).exists
    with pytest.raises(AuthenticationError) as caught:
        client(registry.url).image(parse_image("ofm/api:1"))
    assert "without credentials" in str(caught.value) and "registry_username" in str(caught.value)


@pytest.mark.parametrize("registry", ["bearer"], indirect=True)
def test_bearer_challenge_gets_a_token_once_per_repository(registry):
    registry_client = client(registry.url, username="bot", password=PASSWORD)
    assert registry_client.image(parse_image("ofm/api:1")).exists
    assert not registry_client.image(parse_image("ofm/api:9")).exists
    assert [r.path_only for r in registry.received] == ["/v2/ofm/api/manifests/1", "/token", "/v2/ofm/api/manifests/1",
                                                        "/v2/ofm/api/manifests/9"]
    assert registry.received[1].query == {"service": ["registry.test"], "scope": ["repository:ofm/api:pull"]}
    assert PASSWORD not in repr(registry_client.requests) and TOKEN not in repr(registry_client.requests)


@pytest.mark.parametrize("registry", ["bearer"], indirect=True)
def test_fixed_token(registry):
    assert client(registry.url, token=TOKEN).image(parse_image("ofm/api:1")).exists


def test_bearer_challenge_parsing():
    expected = {"realm": "https://auth.example/token", "service": "reg"}
    assert bearer_challenge('Bearer realm="https://auth.example/token",service="reg"') == expected
    assert bearer_challenge('Basic realm="x"') is None
    assert bearer_challenge(None) is None


def registry_params(url: str, **overrides: Any) -> dict[str, Any]:
    return {"registry_url": url, "registry_username": None, "registry_password": None, "registry_token": None, "validate_certs": True,
            "ca_path": None, "timeout": 5.0, "retries": 0, **overrides}


@pytest.mark.parametrize("registry", ["bearer"], indirect=True)
def test_from_params_gives_the_token_realm_client_the_same_options(registry):
    registry_client = RegistryClient.from_params(registry_params(registry.url, registry_username="bot", registry_password=PASSWORD))
    assert registry_client.image(parse_image("ofm/api:1")).exists
    assert registry_client.registry_url == registry.url
    assert [entry.get("status") for entry in registry_client.requests] == [401, 200, 200]
    assert all(client._limits.retries == 0 and client.system == "container registry" for client in registry_client._clients)


@pytest.mark.parametrize("overrides, option", [({"registry_url": "registry.example.com"}, "registry_url"), ({"retries": -1}, "retries")])
def test_from_params_names_a_bad_option(overrides, option):
    with pytest.raises(InputError) as caught:
        RegistryClient.from_params(registry_params("https://registry.example.com", **overrides))
    assert caught.value.option == option
