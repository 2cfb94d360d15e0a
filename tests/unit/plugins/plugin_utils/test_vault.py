# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot secrets sealed with the run's vault secrets: round trip, wrong or missing secret, tampered text."""
from __future__ import annotations

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret

from ansible_collections.ofm.rollback.plugins.plugin_utils.vault import SecretBox, VaultUnavailable, vault_secrets_of


def secrets(password: str, label: str = "default"):
    return [(label, VaultSecret(password.encode()))]


def test_seal_then_open_round_trips_and_hides_the_value():
    box = SecretBox(secrets("s3cret-vault"))
    sealed = box.seal("tiktok-api-key-123")
    assert sealed.startswith("$ANSIBLE_VAULT;")
    assert "tiktok-api-key-123" not in sealed
    assert box.open(sealed, "secrets/x/KEY") == "tiktok-api-key-123"
    # Salted: the same value seals differently each time, so the file reveals no equal values.
    assert box.seal("tiktok-api-key-123") != sealed


def test_the_seal_is_tied_to_the_vault_id_asked_for():
    box = SecretBox(secrets("a", "dev") + secrets("b", "prod"), vault_id="prod")
    sealed = box.seal("v")
    assert sealed.splitlines()[0].endswith(";prod")
    assert SecretBox(secrets("b", "prod")).open(sealed, "k") == "v"
    with pytest.raises(VaultUnavailable, match="'missing'"):
        SecretBox(secrets("a", "dev"), vault_id="missing").seal("v")


def test_a_wrong_secret_is_refused_without_the_value():
    sealed = SecretBox(secrets("right")).seal("api-key-value")
    with pytest.raises(VaultUnavailable, match="secrets/cm/KEY cannot be decrypted.*another vault secret") as refused:
        SecretBox(secrets("wrong")).open(sealed, "secrets/cm/KEY")
    assert "api-key-value" not in str(refused.value)


def test_no_vault_secret_names_the_ways_to_give_one():
    with pytest.raises(VaultUnavailable, match="--vault-password-file"):
        SecretBox([]).seal("v")
    sealed = SecretBox(secrets("x")).seal("v")
    with pytest.raises(VaultUnavailable, match="no vault secret"):
        SecretBox([]).open(sealed, "k")


def test_text_that_is_not_vault_text_is_refused():
    with pytest.raises(VaultUnavailable, match="not Ansible Vault text"):
        SecretBox(secrets("x")).open("plain-value", "secrets/cm/KEY")


def test_the_loaders_secrets_are_used():
    loader = DataLoader()
    assert not vault_secrets_of(loader)
    loader.set_vault_secrets(secrets("from-cli"))
    sealed = SecretBox(vault_secrets_of(loader)).seal("v")
    assert SecretBox(secrets("from-cli")).open(sealed, "k") == "v"
