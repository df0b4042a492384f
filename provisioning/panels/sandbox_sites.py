"""The sandbox's imitation of the self-service calls of the WordPress site backend
(wordpress.py): the same method names and answers, so a demo product standing in for it
shows every control (provisioning.services.actions). Mixed into SandboxPanel.

The site's state (container power, proxy switch, custom domains, backups) lives in Django's
cache under the site's external id: it is a demo, and the portal keeps no copy of it."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from provisioning.errors import PanelPermanentError

PANEL = "Sandbox site backend"
POWER_STATES = {"start": "running", "stop": "stopped", "restart": "running"}


def _key(external_id: str) -> str:
    return f"sandbox:site:{external_id}"


def _state(external_id: str) -> dict[str, Any]:
    return cache.get(_key(external_id)) or {
        "status": "running",
        "proxy_enabled": True,
        "domains": [],
        "backups": [],
        "resets": 0,
    }


def _save(external_id: str, state: dict[str, Any]) -> None:
    cache.set(_key(external_id), state, None)


def _refused(status: int, message: str) -> PanelPermanentError:
    return PanelPermanentError(f"{PANEL} answered {status}: {message}", status=status)


class SandboxSites:
    def site_status(self, external_id: str) -> dict[str, Any]:
        state = _state(external_id)
        label = hashlib.sha256(external_id.encode()).hexdigest()[:8]
        return {
            "status": state["status"],
            "subdomain": f"site-{label}.sandbox.test",
            "ip": settings.DNS_PROXY_IP,
            "proxy_enabled": state["proxy_enabled"],
        }

    def site_power(self, external_id: str, *, action: str) -> None:
        if action not in POWER_STATES:
            raise _refused(400, f"Unknown action {action}.")
        state = _state(external_id)
        state["status"] = POWER_STATES[action]
        _save(external_id, state)

    def site_reset(self, external_id: str) -> None:
        state = _state(external_id)
        state.update(status="running", resets=state["resets"] + 1)
        _save(external_id, state)

    def site_domains(self, external_id: str) -> list[str]:
        return list(_state(external_id)["domains"])

    def site_domain_add(self, external_id: str, *, domain: str) -> None:
        state = _state(external_id)
        if domain in state["domains"]:
            raise _refused(409, "Domain already exists.")
        state["domains"].append(domain)
        _save(external_id, state)

    def site_domain_delete(self, external_id: str, *, domain: str) -> None:
        state = _state(external_id)
        state["domains"] = [d for d in state["domains"] if d != domain]
        _save(external_id, state)

    def site_proxy_set(self, external_id: str, *, enabled: bool) -> None:
        state = _state(external_id)
        state["proxy_enabled"] = enabled
        _save(external_id, state)

    def backups_list(self, external_id: str) -> list[dict[str, Any]]:
        return [dict(b) for b in _state(external_id)["backups"]]

    def backup_create(self, external_id: str, *, name: str) -> dict[str, Any]:
        state = _state(external_id)
        existing = next((b for b in state["backups"] if b["name"] == name), None)
        if existing is not None:  # as the real adapter: a resent create adopts it
            return dict(existing)
        backup = {
            "id": hashlib.sha256(f"{external_id}:{name}".encode()).hexdigest()[:12],
            "name": name,
            "created_at": timezone.now().isoformat(timespec="seconds"),
        }
        state["backups"].append(backup)
        _save(external_id, state)
        return dict(backup)

    def backup_delete(self, external_id: str, *, backup_id: str) -> None:
        state = _state(external_id)
        state["backups"] = [b for b in state["backups"] if b["id"] != backup_id]
        _save(external_id, state)

    def backup_restore(self, external_id: str, *, backup_id: str) -> None:
        state = _state(external_id)
        if not any(b["id"] == backup_id for b in state["backups"]):
            raise _refused(404, "No such backup.")
        state["status"] = "running"
        _save(external_id, state)
