"""The sandbox's imitation of the self-service calls of the hosting panels (directadmin.py,
nextpanel.py) and of support subscriptions (support.py): the same method names and answers,
so a demo product standing in for those modules shows every control
(provisioning.services.actions). Mixed into SandboxPanel.

What changes (databases made, a regenerated support key) lives in Django's cache keyed by the
external id (it is a demo); the rest is derived from the external id."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.cache import cache


def _databases_key(external_id: str) -> str:
    return f"sandbox:hosting:{external_id}:databases"


def _account(external_id: str) -> str:
    """The account name DirectAdmin would prefix databases with."""
    return external_id.removeprefix("sandbox-").replace("-", "")[:10]


class SandboxHosting:
    # --- hosting (DirectAdmin, NextPanel) ---------------------------------------------

    def hosting_stats(self, external_id: str) -> dict[str, Any]:
        databases = len(cache.get(_databases_key(external_id), []))
        return {
            "domains": 2,
            "domains_limit": 5,
            "databases": databases,
            "databases_limit": 10,
            "email_accounts": 3,
            "email_accounts_limit": 50,
            "ssl_certificates": 1,
            "ssl_certificates_limit": None,
            "storage_mb": 812,
            "storage_mb_limit": 10240,
            "bandwidth_mb": 2345,
            "bandwidth_mb_limit": None,
        }

    def hosting_domains(self, external_id: str) -> list[dict[str, Any]]:
        base = f"{_account(external_id)}.sandbox.test"
        return [
            {"domain": base, "bandwidth_mb": 2100, "disk_mb": 640, "ssl": True},
            {"domain": f"shop.{base}", "bandwidth_mb": 245, "disk_mb": 172, "ssl": False},
        ]

    def database_create(
        self, external_id: str, *, name: str, user: str, password: str
    ) -> dict[str, Any]:
        account = _account(external_id)
        made = cache.get(_databases_key(external_id), [])
        cache.set(_databases_key(external_id), [*made, name], None)
        return {"database": f"{account}_{name}", "user": f"{account}_{user}", "password": password}

    # --- support subscriptions --------------------------------------------------------

    def support_info(self, external_id: str) -> dict[str, Any]:
        return {"status": "active", "tier": "", "email": ""}  # the portal's own values

    def support_key_regenerate(self, external_id: str) -> str:
        return f"SK-{secrets.token_hex(6).upper()}"
