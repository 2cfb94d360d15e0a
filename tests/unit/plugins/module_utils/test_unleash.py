# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Unleash admin API client against a local fake Unleash served from a thread (unithelpers.FakeUnleash)."""
from __future__ import annotations

from typing import Any

import pytest
from unithelpers import UNLEASH_TOKEN, FakeUnleash, Reply

from ansible_collections.ofm.rollback.plugins.module_utils.errors import (
    AuthenticationError, AuthorizationError, DataError, InputError, NotFoundError, UnavailableError)
from ansible_collections.ofm.rollback.plugins.module_utils.unleash import UnleashClient


def params(unleash: FakeUnleash, **overrides: Any) -> dict[str, Any]:
    return {"unleash_url": unleash.url, "unleash_token": UNLEASH_TOKEN, "unleash_project": "default", "unleash_environment": "production",
            "unleash_validate_certs": True, "unleash_ca_path": None, **overrides}


def client_for(unleash: FakeUnleash, **overrides: Any) -> UnleashClient:
    client = UnleashClient.from_params(params(unleash, **overrides))
    client.http._sleep = lambda _seconds: None  # pylint: disable=protected-access
    return client


def test_toggles_lists_each_toggle_state_in_the_environment_with_the_raw_token(unleash):
    assert client_for(unleash).toggles() == {"publish_v2": False, "new_composer": True, "tiktok_direct_post": True}
    development = client_for(unleash, unleash_environment="development").toggles()
    assert development == {"publish_v2": False, "new_composer": False, "tiktok_direct_post": False}
    request = unleash.received[0]
    assert (request.method, request.path) == ("GET", "/api/admin/projects/default/features")
    assert request.headers["Authorization"] == UNLEASH_TOKEN  # no "Bearer": Unleash takes the token as it is


def test_set_enabled_posts_on_or_off_in_the_environment(unleash):
    client = client_for(unleash)
    client.set_enabled("new_composer", False)
    client.set_enabled("publish_v2", True)
    assert [(r.method, r.path) for r in unleash.writes()] == [
        ("POST", "/api/admin/projects/default/features/new_composer/environments/production/off"),
        ("POST", "/api/admin/projects/default/features/publish_v2/environments/production/on")]
    assert unleash.state("new_composer") is False and unleash.state("publish_v2") is True
    assert unleash.state("publish_v2", "development") is False


def test_set_many_turns_toggles_on_or_off_in_one_bulk_request(unleash):
    client = client_for(unleash)
    client.set_many(["new_composer", "tiktok_direct_post"], False)
    client.set_many([], True)
    assert [(r.method, r.path, r.body) for r in unleash.writes()] == [
        ("POST", "/api/admin/projects/default/bulk_features/environments/production/off", {"features": ["new_composer", "tiktok_direct_post"]})]
    assert client.toggles() == {"publish_v2": False, "new_composer": False, "tiktok_direct_post": False}


def test_set_many_with_an_unknown_toggle_names_it_and_changes_none(unleash):
    with pytest.raises(NotFoundError) as caught:
        client_for(unleash).set_many(["new_composer", "no_such_toggle"], False)
    assert caught.value.details["toggle"] == "no_such_toggle" and "no toggle was changed" in caught.value.hint
    assert unleash.state("new_composer") is True
    with pytest.raises(InputError) as caught:
        client_for(unleash, unleash_environment="staging").set_many(["new_composer"], False)
    assert caught.value.option == "unleash_environment"


def test_an_unknown_toggle_is_not_found_naming_it(unleash):
    with pytest.raises(NotFoundError) as caught:
        client_for(unleash).set_enabled("no_such_toggle", False)
    assert "'no_such_toggle'" in str(caught.value) and "project default, environment production" in str(caught.value)
    assert caught.value.details["toggle"] == "no_such_toggle"


def test_an_unknown_environment_names_the_option_and_the_environments(unleash):
    with pytest.raises(InputError) as caught:
        client_for(unleash, unleash_environment="staging").toggles()
    assert caught.value.option == "unleash_environment" and caught.value.accepted == ["development", "production"]
    with pytest.raises(InputError) as caught:
        client_for(unleash, unleash_environment="staging").set_enabled("publish_v2", True)
    assert caught.value.option == "unleash_environment"


def test_create_adds_a_kill_switch_toggle_that_is_off(unleash):
    client = client_for(unleash)
    client.create("brand_new")
    assert unleash.writes()[0].body == {"name": "brand_new", "type": "kill-switch", "description": "Created by ofm.rollback"}
    assert client.toggles()["brand_new"] is False


def test_a_wrong_token_is_an_authentication_error_naming_the_option_without_the_token(unleash):
    client = client_for(unleash, unleash_token="*:*.wrong-token-123")
    with pytest.raises(AuthenticationError) as caught:
        client.toggles()
    assert "unleash_token" in caught.value.hint and caught.value.status == 401
    assert "wrong-token-123" not in str(caught.value.to_result()) and "wrong-token-123" not in str(client.http.requests)


def test_a_refusal_names_the_scope(unleash):
    unleash.script(Reply(403, {"name": "NoAccessError", "message": "You need permission UPDATE_FEATURE_ENVIRONMENT"}))
    with pytest.raises(AuthorizationError) as caught:
        client_for(unleash).set_enabled("publish_v2", True)
    assert "unleash_token" in caught.value.hint and "project default, environment production" in caught.value.hint


def test_on_off_is_retried_after_a_server_error_since_it_is_idempotent(unleash):
    unleash.script(Reply(503, {"message": "busy"}))
    client_for(unleash).set_enabled("publish_v2", True)
    assert len(unleash.writes()) == 2 and unleash.state("publish_v2") is True


def test_a_server_that_keeps_failing_is_unavailable(unleash):
    unleash.script(*[Reply(502, "bad gateway")] * 5)
    with pytest.raises(UnavailableError) as caught:
        client_for(unleash).toggles()
    assert caught.value.system == "Unleash" and caught.value.attempts == 4


def test_an_answer_that_is_not_unleash_is_a_data_error(unleash):
    unleash.script(Reply(200, {"hello": "world"}))
    with pytest.raises(DataError) as caught:
        client_for(unleash).toggles()
    assert "unleash_url" in caught.value.hint


@pytest.mark.parametrize("overrides, option", [
    ({"unleash_url": None}, "unleash_url"),
    ({"unleash_url": "unleash.example.com"}, "unleash_url"),
    ({"unleash_token": ""}, "unleash_token"),
    ({"unleash_project": "my project"}, "unleash_project"),
    ({"unleash_environment": "prod/x"}, "unleash_environment"),
])
def test_bad_options_are_refused_before_any_request(unleash, overrides, option):
    with pytest.raises(InputError) as caught:
        UnleashClient.from_params(params(unleash, **overrides))
    assert caught.value.option == option
    assert unleash.received == []
