# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret values of a configuration snapshot, sealed with Ansible Vault on the controller.

The vault secrets are the run's own: ``--vault-id``, ``--vault-password-file``, ``--ask-vault-pass`` or an AWX vault
credential, as the task's loader holds them (``vault_secrets_of``). A snapshot's secret values are stored only as vault
text; everywhere else (results, diffs, the audit trail) they are shown as ``<added>``/``<changed>``/``<removed>``/
``<unchanged>``. Runs on the controller only (the config_snapshot and config_restore actions).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ansible.errors import AnsibleError
from ansible.parsing.vault import VaultLib, is_encrypted, match_encrypt_secret

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

SYSTEM = "Ansible Vault"

NO_SECRET_HINT = ("give the run a vault secret: --vault-id <label>@<source>, --vault-password-file <file>, --ask-vault-pass, "
                  "or a vault credential on the AWX job template")


class VaultUnavailable(Exception):
    """No vault secret, a wrong one, or vault text that is not vault text."""


def vault_secrets_of(loader: Any) -> list[tuple[str, Any]]:
    """The vault secrets the run was started with (ansible-core keeps them on the loader's VaultLib)."""
    vault = getattr(loader, "_vault", None)
    return list(getattr(vault, "secrets", None) or [])


class SecretBox:
    """Seals and opens secret values with the run's vault secrets; ``vault_id`` picks the secret that seals."""

    def __init__(self, secrets: Sequence[tuple[str, Any]], vault_id: Optional[str] = None) -> None:
        self._secrets = list(secrets)
        self._vault = VaultLib(self._secrets)
        self.vault_id = vault_id
        self._has_secret = bool(secrets)

    def seal(self, value: str) -> str:
        if not self._has_secret:
            raise VaultUnavailable(f"secret values are stored encrypted with Ansible Vault and this run has no vault secret: {NO_SECRET_HINT}")
        try:
            label, secret = match_encrypt_secret(self._secrets, encrypt_vault_id=self.vault_id)
            # The envelope names the vault id that sealed it (the default one carries no label), as ansible-vault writes it.
            sealed = self._vault.encrypt(value, secret=secret, vault_id=None if label == "default" else label)
        except AnsibleError as exc:
            raise VaultUnavailable(f"could not encrypt with the vault secret{' ' + repr(self.vault_id) if self.vault_id else ''}: {exc}") from None
        return sealed.decode("ascii")

    def open(self, sealed: str, where: str) -> str:
        """The clear value of ``sealed``; ``where`` (e.g. ``secrets/ofm-social-os-secrets/TIKTOK_API_KEY``) names it in errors."""
        if not is_encrypted(sealed):
            raise VaultUnavailable(f"{where} is not Ansible Vault text: the snapshot was changed by hand or is damaged")
        if not self._has_secret:
            raise VaultUnavailable(f"{where} is encrypted with Ansible Vault and this run has no vault secret: {NO_SECRET_HINT}")
        try:
            return self._vault.decrypt(sealed).decode("utf-8")
        except AnsibleError:
            raise VaultUnavailable(f"{where} cannot be decrypted with the vault secret(s) of this run: the snapshot was sealed with "
                                   "another vault secret (give the one used when the snapshot was taken)") from None


def sealer(loader: Any, vault_id: Optional[str] = None) -> Optional[Callable[[str], str]]:
    """``seal(value)`` with the run's vault secrets for a snapshot, failing with the collection's error; None when the run has
    no vault secret."""
    secrets = vault_secrets_of(loader)
    if not secrets:
        return None
    box = SecretBox(secrets, vault_id)

    def seal(value: str) -> str:
        try:
            return box.seal(value)
        except VaultUnavailable as exc:
            raise OfmRollbackError(str(exc), system=SYSTEM, operation="encrypt",
                                   hint="Check vault_id against the vault ids the run was given (--vault-id label@source).") from None
    return seal


def opener(loader: Any) -> Optional[Callable[[str, str], str]]:
    """``open_secret(sealed, where)`` with the run's vault secrets, failing with the collection's error (the value never in it);
    None when the run has no vault secret."""
    secrets = vault_secrets_of(loader)
    if not secrets:
        return None
    box = SecretBox(secrets)

    def open_secret(sealed: str, where: str) -> str:
        try:
            return box.open(sealed, where)
        except VaultUnavailable as exc:
            raise OfmRollbackError(str(exc), system=SYSTEM, operation="decrypt", target=where,
                                   hint="Run with the vault secret the snapshot was taken with (--vault-id or --vault-password-file).") from None
    return open_secret
