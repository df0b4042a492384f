"""Self-service of wordpress services: the actions on the service's page and what the page reads
live from the panel (see provisioning.services.actions).

A WordPress site offers: start, stop, restart; reset to the initial snapshot; custom domains
(add, delete) within the site plan's quota; backups (create `BAK{YYYYMMDD}-{N}`, delete,
roll back) within the plan's quota; and the reverse-proxy switch (traffic off without
deleting the site). The quotas (SitePlan.domains, SitePlan.backups) are checked here before
anything is recorded, against the panel's live lists; the backend checks them again (409).
Reset, roll back and the proxy switch are never resent after a lost answer (staff check).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from provisioning.errors import PanelPermanentError
from provisioning.models import Service, SitePlan
from provisioning.panels.base import Backups, SiteControls
from provisioning.selectors import site_plan_for
from provisioning.services.actions import (
    Action,
    ActionRefused,
    LiveRead,
    Panel,
    Params,
    live_read,
)
from provisioning.services.site_domains import (
    domain_points_at_proxy,
    site_domain_normalize,
    site_proxy_ip,
    zone_proof_valid,
)

BACKUP_PREFIX = "BAK"


# --- the panel's capabilities -------------------------------------------------------------


def _sites(panel: Panel) -> SiteControls:
    if not isinstance(panel, SiteControls):
        raise PanelPermanentError("This site's panel has no site controls.")
    return panel


def _backups(panel: Panel) -> Backups:
    if not isinstance(panel, Backups):
        raise PanelPermanentError("This site's panel keeps no backups.")
    return panel


def _fetch_status(panel: Panel, service: Service) -> dict[str, Any]:
    return _sites(panel).site_status(service.external_id)


def _fetch_domains(panel: Panel, service: Service) -> list[str]:
    return _sites(panel).site_domains(service.external_id)


def _fetch_backups(panel: Panel, service: Service) -> list[dict[str, Any]]:
    return _backups(panel).backups_list(service.external_id)


def _live_domains(service: Service) -> list[str]:
    read = live_read(service, "domains", _fetch_domains)
    if read.data is None:
        raise ActionRefused(read.notice)
    return read.data


def _live_backups(service: Service) -> list[dict[str, Any]]:
    read = live_read(service, "backups", _fetch_backups)
    if read.data is None:
        raise ActionRefused(read.notice)
    return read.data


def _plan(service: Service) -> SitePlan:
    plan = site_plan_for(service=service)
    if plan is None:
        raise ActionRefused("This site has no plan set up yet; please contact support.")
    return plan


# --- power, reset, proxy ------------------------------------------------------------------


def _power(action: str) -> Any:
    def call(panel: Panel, service: Service, params: Params) -> None:
        _sites(panel).site_power(service.external_id, action=action)

    return call


def _reset(panel: Panel, service: Service, params: Params) -> None:
    _sites(panel).site_reset(service.external_id)


def _clean_proxy(service: Service, params: Params) -> Params:
    wanted = str(params.get("enabled", "")).lower()
    if wanted not in ("on", "off"):
        raise ActionRefused("Choose whether the site's traffic is on or off.")
    return {"enabled": wanted == "on"}


def _proxy(panel: Panel, service: Service, params: Params) -> dict[str, Any]:
    enabled = bool(params["enabled"])
    _sites(panel).site_proxy_set(service.external_id, enabled=enabled)
    return {"traffic": "on" if enabled else "off"}


# --- custom domains -----------------------------------------------------------------------


def _clean_domain_add(service: Service, params: Params) -> Params:
    domain = site_domain_normalize(str(params.get("domain", "")))
    plan = _plan(service)
    domains = _live_domains(service)
    if domain in domains:
        raise ActionRefused(f"{domain} is a domain of this site already.")
    if len(domains) >= plan.domains:
        raise ActionRefused(
            f"Your {plan.name} plan allows {plan.domains} custom domains and this site has "
            f"{len(domains)}: delete one first, or change to a larger plan."
        )
    proof = str(params.get("zone_proof", ""))
    if proof and zone_proof_valid(proof, service_id=service.pk, domain=domain):
        return {"domain": domain, "checked": "zone"}  # pointed here by us, in its zone
    domain_points_at_proxy(service, domain)
    return {"domain": domain, "checked": "dns"}


def _domain_add(panel: Panel, service: Service, params: Params) -> dict[str, Any]:
    _sites(panel).site_domain_add(service.external_id, domain=str(params["domain"]))
    return {"domain": params["domain"]}


def _clean_domain_delete(service: Service, params: Params) -> Params:
    domain = str(params.get("domain", "")).strip().lower().rstrip(".")
    if domain not in _live_domains(service):
        raise ActionRefused("This site has no such domain.")
    return {"domain": domain}


def _domain_delete(panel: Panel, service: Service, params: Params) -> None:
    _sites(panel).site_domain_delete(service.external_id, domain=str(params["domain"]))


# --- backups ------------------------------------------------------------------------------


def backup_name_next(names: list[str], today: date) -> str:
    """The next manual backup's name, `BAK{YYYYMMDD}-{N}`: N counts on from the day's
    highest number (so a deleted backup's name is not taken again the same day)."""
    prefix = f"{BACKUP_PREFIX}{today:%Y%m%d}-"
    numbers = [int(m[1]) for n in names if (m := re.fullmatch(rf"{prefix}(\d{{1,6}})", n))]
    return f"{prefix}{max(numbers, default=0) + 1}"


def _clean_backup_create(service: Service, params: Params) -> Params:
    plan = _plan(service)
    backups = _live_backups(service)
    if len(backups) >= plan.backups:
        raise ActionRefused(
            f"Your {plan.name} plan keeps {plan.backups} backups and this site has "
            f"{len(backups)}: delete one first."
        )
    names = [str(b.get("name", "")) for b in backups]
    # Named now and kept on the operation, so a resent create adopts the same backup.
    return {"name": backup_name_next(names, timezone.localdate())}


def _backup_create(panel: Panel, service: Service, params: Params) -> dict[str, Any]:
    made = _backups(panel).backup_create(service.external_id, name=str(params["name"]))
    return {"backup": made.get("name") or params["name"]}


def _clean_backup_id(service: Service, params: Params) -> Params:
    wanted = str(params.get("backup_id", ""))
    backup = next((b for b in _live_backups(service) if str(b.get("id")) == wanted), None)
    if not wanted or backup is None:
        raise ActionRefused("This site has no such backup.")
    return {"backup_id": wanted, "name": str(backup.get("name", ""))}


def _backup_delete(panel: Panel, service: Service, params: Params) -> None:
    _backups(panel).backup_delete(service.external_id, backup_id=str(params["backup_id"]))


def _backup_restore(panel: Panel, service: Service, params: Params) -> dict[str, Any]:
    _backups(panel).backup_restore(service.external_id, backup_id=str(params["backup_id"]))
    return {"restored": params.get("name") or params["backup_id"]}


ACTIONS: tuple[Action, ...] = (
    Action("start", "Start", _power("start"), done_message="The site is running."),
    Action("stop", "Stop", _power("stop"), done_message="The site is stopped."),
    Action("restart", "Restart", _power("restart"), done_message="The site was restarted."),
    Action(
        "reset",
        "Reset to the initial snapshot",
        _reset,
        repeatable=False,
        confirm="RESET",
        done_message="The site is back to its initial state.",
    ),
    Action(
        "proxy",
        "Site traffic",
        _proxy,
        repeatable=False,  # the backend's switch may only flip: never sent twice
        clean=_clean_proxy,
        done_message="The site's traffic setting is changed.",
    ),
    Action(
        "add_domain",
        "Add a domain",
        _domain_add,
        clean=_clean_domain_add,
        done_message="The domain is added; its certificate follows within minutes.",
    ),
    Action(
        "delete_domain",
        "Remove the domain",
        _domain_delete,
        clean=_clean_domain_delete,
        done_message="The domain is removed from the site.",
    ),
    Action(
        "create_backup",
        "Create a backup",
        _backup_create,
        clean=_clean_backup_create,
        done_message="The backup is made.",
    ),
    Action(
        "delete_backup",
        "Delete",
        _backup_delete,
        clean=_clean_backup_id,
        confirm="DELETE",
        done_message="The backup is deleted.",
    ),
    Action(
        "rollback",
        "Roll back",
        _backup_restore,
        repeatable=False,
        clean=_clean_backup_id,
        confirm="ROLLBACK",
        done_message="The site is rolled back to the backup.",
    ),
)


def _room(plan: SitePlan | None, read: LiveRead[Any], quota: str) -> bool:
    """Whether the page offers to add one more (known only from the backend's list)."""
    return plan is not None and read.data is not None and len(read.data) < getattr(plan, quota)


def _when(text: str) -> datetime | None:
    """A backup's ISO time for display (None when the backend gave something else)."""
    try:
        return parse_datetime(text)
    except ValueError:
        return None


def page_context(service: Service) -> dict[str, Any]:
    """What the service page's wordpress section shows (live reads through `live_read`)."""
    status = live_read(service, "status", _fetch_status)
    if status.ok:
        domains = live_read(service, "domains", _fetch_domains)
        backups = live_read(service, "backups", _fetch_backups)
    else:  # the backend is down: the page does not wait for two more timeouts
        domains, backups = LiveRead(None, status.notice), LiveRead(None, status.notice)
    plan = site_plan_for(service=service)
    site = status.data or {}
    # each row with the params its buttons post (templates cannot build dicts)
    domain_rows = [{"name": d, "params": {"domain": d}} for d in domains.data or []]
    backup_rows = [
        {
            **b,
            "created": parse_datetime(b.get("created_at") or ""),
            "params": {"backup_id": b["id"]},
        }
        for b in backups.data or []
    ]
    return {
        "site_plan": plan,
        "site_status": site,
        "site_status_notice": status.notice,
        "site_ip": site.get("ip") or site_proxy_ip(service),
        "site_proxy_ip": site_proxy_ip(service),
        "site_domains": domain_rows,
        "site_domains_notice": domains.notice,
        "site_domains_room": _room(plan, domains, "domains"),
        "site_backups": backup_rows,
        "site_backups_notice": backups.notice,
        "site_backups_room": _room(plan, backups, "backups"),
        "proxy_on": {"enabled": "on"},
        "proxy_off": {"enabled": "off"},
    }
