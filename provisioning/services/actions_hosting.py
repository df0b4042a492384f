"""Self-service of web hosting accounts (DirectAdmin, NextPanel): the page shows the account's
statistics (domains, databases, email accounts, SSL certificates, storage, bandwidth) read
live, and one-click login is the service page's "Open control panel" (ServiceLoginView: a
DirectAdmin login key URL). On DirectAdmin the page also lists the account's domains and
creates a database with its user; the password is made here, sent once and shown to the
customer once (a secret result), never stored in the operation's parameters (see
provisioning.services.actions)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from provisioning.errors import PanelError
from provisioning.models import Service
from provisioning.panels.base import HostingDatabases, HostingStats
from provisioning.services.actions import (
    Action,
    ActionRefused,
    Panel,
    Params,
    live_read,
    service_module,
)

STATS = "hosting_stats"
DOMAINS = "hosting_domains"
# What DirectAdmin takes after its "<user>_" prefix, kept short so the whole name fits
# MySQL's limits (64 for a database, 32 for a user) whatever the account name.
DB_NAME = re.compile(r"[a-z0-9]{1,16}")
STAT_ROWS = (
    ("Domains", "domains", ""),
    ("Databases", "databases", ""),
    ("Email accounts", "email_accounts", ""),
    ("SSL certificates", "ssl_certificates", ""),
    ("Storage", "storage_mb", "MB"),
    ("Bandwidth this month", "bandwidth_mb", "MB"),
)


def _stats(panel: Panel, service: Service) -> dict[str, Any]:
    if not isinstance(panel, HostingStats):
        raise PanelError("This service's panel gives no account statistics.", retryable=False)
    return panel.hosting_stats(service.external_id)


def _domains(panel: Panel, service: Service) -> list[dict[str, Any]]:
    return _databases(panel).hosting_domains(service.external_id)


def _databases(panel: Panel) -> HostingDatabases:
    if not isinstance(panel, HostingDatabases):
        raise PanelError("This service's panel cannot create databases.", retryable=False)
    return panel


def _clean_database(service: Service, params: Params) -> Params:
    """Names DirectAdmin accepts, and the plan's database quota when the panel reports it
    (the panel refuses beyond it as well)."""
    name = str(params.get("name", "")).strip().lower()
    user = str(params.get("user", "")).strip().lower() or name
    for label, value in (("database name", name), ("database user", user)):
        if not DB_NAME.fullmatch(value):
            raise ActionRefused(
                f"The {label} must be 1 to 16 lowercase letters or digits (we add your "
                "account name in front)."
            )
    stats = live_read(service, STATS, _stats).data or {}
    used, limit = stats.get("databases"), stats.get("databases_limit")
    if isinstance(used, int) and isinstance(limit, int) and used >= limit:
        raise ActionRefused(f"Your plan's {limit} databases are all in use.")
    return {"name": name, "user": user}


def _create_database(panel: Panel, service: Service, params: Params) -> dict[str, Any]:
    password = secrets.token_urlsafe(15)
    made = _databases(panel).database_create(
        service.external_id, name=params["name"], user=params["user"], password=password
    )
    return {"database": made["database"], "user": made["user"], "password": made["password"]}


DIRECTADMIN_ACTIONS: tuple[Action, ...] = (
    # Not sent twice after a lost answer: a second create fails on the first's name.
    Action(
        "create_database",
        "Create database",
        _create_database,
        repeatable=False,
        clean=_clean_database,
        secret_keys=("password",),
        done_message="The database is ready. Keep its password now: it is shown only once.",
        changes=(STATS,),
    ),
)
NEXTPANEL_ACTIONS: tuple[Action, ...] = ()


def _stat_rows(stats: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for label, key, unit in STAT_ROWS:
        used, limit = stats.get(key), stats.get(f"{key}_limit")
        share = min(100, round(100 * used / limit)) if used is not None and limit else None
        rows.append({"label": label, "used": used, "limit": limit, "unit": unit, "share": share})
    return rows


def page_context(service: Service) -> dict[str, Any]:
    """The hosting section: statistics for both panels; on DirectAdmin its domains too."""
    stats = live_read(service, STATS, _stats)
    context: dict[str, Any] = {
        "hosting_stats": _stat_rows(stats.data) if stats.data else [],
        "hosting_notice": stats.notice,
    }
    if service_module(service) == "directadmin":
        domains = live_read(service, DOMAINS, _domains)
        context["hosting_domains"] = domains.data or []
        context["hosting_domains_notice"] = domains.notice
    return context
