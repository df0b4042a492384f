"""The managed WordPress site backend (Proxmox-backed site API, bearer token).

Every call names the site by our service reference (`service_id`), so the backend's own
idempotency on that id makes a repeated create safe; a 409 ("exists") is adopted.
Plans (resources and quotas) live in the portal (`SitePlan`, editable by staff) and are sent
by name; the product setting `plan` picks one.

The contract (`../shared/reference/external-apis.md` has no section for this backend; what
follows is from the seed's Paymenter extension "ProxmoxWP"; PROVISIONAL marks what the seed
does not show and we chose):

- Auth: `Authorization: Bearer <token>`, `Accept: application/json`, JSON bodies. Errors are
  HTTP statuses with a JSON `{"error": "..."}` body (the seed cleans `error`); 409 is a
  conflict: the quota of the plan is full, or the domain/backup exists.
- Lifecycle (seed): `POST /create-site {service_id, email, plan, public_ip}`,
  `POST /suspend|/unsuspend|/delete-site {service_id}`, `POST /wp/upgrade/ {service_id, plan}`.
- Status: `GET /status?service_id=` -> `{"status": "running"|"stopped", "subdomain",
  "ip", "proxy_enabled"}` (the seed reads `status` and `subdomain`; the path, `ip` and
  `proxy_enabled` are PROVISIONAL).
- Power and reset: `POST /action {service_id, action}` with action `start`, `stop`,
  `restart` or `reset` (reset rolls back to the snapshot `initial` taken at creation). The
  seed calls `action(id, verb)`; path and body are PROVISIONAL.
- Domains (seed): `GET /action/getdomain?service_id=` -> a list of domains (strings, or
  objects with `domain`; PROVISIONAL: also `{"domains": [...]}`), `POST /action/setdomain
  {service_id, domain}` (the backend checks the domain points at the proxy and makes its
  proxy host with a certificate), `POST /action/deldomain {service_id, domain}`.
- Backups (seed): `GET /action/getbak?service_id=` -> a list of `{"id"|"bak", "name",
  "created_at"|"created"}` (field names PROVISIONAL: read leniently), `POST /action/mkbak
  {service_id, name}` (the seed sends no name and lets the backend pick `BAK{DDMMYYYY}-{N}`;
  sending ours, `BAK{YYYYMMDD}-{N}`, is PROVISIONAL), `POST /action/delbak {service_id, bak}`,
  `POST /action/rollback {service_id, bak}`.
- Reverse proxy: `POST /action/toggle {service_id, enabled}`: the seed's toggle flips the
  proxy host's `enabled`; sending the wanted state is PROVISIONAL, and because a backend that
  only flips would undo a resent call, the portal never resends it after a lost answer.
- 404 on delete-site, deldomain and delbak means it is gone already (done).
"""

from __future__ import annotations

from typing import Any

from provisioning.errors import PanelPermanentError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.http import CREATE_TIMEOUT, PanelHttp, json_headers

PANEL = "WordPress backend"
LABEL = "Managed WordPress sites"
PRODUCT_SETTINGS = (SettingSpec("plan", "Site plan (basic, standard, premium, ...)"),)
POWER_ACTIONS = ("start", "stop", "restart")


class WordPressBackend:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.public_ip = credentials.options.get("public_ip", "")
        self.http = PanelHttp(
            panel=PANEL,
            base_url=credentials.base_url,
            headers=json_headers(bearer=credentials.secrets["token"]),
        )

    def test_connection(self) -> None:
        self.http.request("GET", "health")

    def create(self, spec: AccountSpec) -> ProvisionResult:
        body = {
            "service_id": spec.reference,
            "email": spec.email,
            "plan": spec.settings["plan"],
            "public_ip": self.public_ip,
        }
        try:
            site = self.http.request("POST", "create-site", json=body, timeout=CREATE_TIMEOUT)
            answer = site.json() if site.content else {}
        except PanelPermanentError as error:
            if error.status != 409:
                raise
            answer = {}  # the site exists already: made by an attempt whose answer was lost
        return ProvisionResult(
            external_id=spec.reference,
            username=str(answer.get("username", "")),
            secrets={"password": answer["password"]} if answer.get("password") else {},
            panel_url=str(answer.get("admin_url") or answer.get("url") or ""),
            details={key: answer[key] for key in ("url", "ip") if key in answer},
        )

    def _site(self, path: str, external_id: str, **extra: Any) -> None:
        self.http.request("POST", path, json={"service_id": external_id, **extra})

    def suspend(self, external_id: str, *, reason: str) -> None:
        self._site("suspend", external_id)

    def unsuspend(self, external_id: str) -> None:
        self._site("unsuspend", external_id)

    def terminate(self, external_id: str) -> None:
        try:
            self._site("delete-site", external_id)
        except PanelPermanentError as error:
            if error.status != 404:
                raise

    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None:
        self._site("wp/upgrade/", external_id, plan=settings["plan"])

    # --- self-service (SiteControls, Backups) ---------------------------------------------

    def _get(self, path: str, external_id: str) -> Any:
        response = self.http.request("GET", path, params={"service_id": external_id})
        return response.json() if response.content else None

    def _gone_is_done(self, path: str, external_id: str, **extra: Any) -> None:
        try:
            self._site(path, external_id, **extra)
        except PanelPermanentError as error:
            if error.status != 404:
                raise

    def site_status(self, external_id: str) -> dict[str, Any]:
        answer = self._get("status", external_id) or {}
        return {
            "status": str(answer.get("status", "")).lower(),
            "subdomain": str(answer.get("subdomain", "")),
            "ip": str(answer.get("ip") or self.public_ip),
            "proxy_enabled": bool(answer.get("proxy_enabled", True)),
        }

    def site_power(self, external_id: str, *, action: str) -> None:
        if action not in POWER_ACTIONS:
            raise PanelPermanentError(f"Unknown power action {action!r}.")
        self._site("action", external_id, action=action)

    def site_reset(self, external_id: str) -> None:
        self._site("action", external_id, action="reset")

    def site_domains(self, external_id: str) -> list[str]:
        answer = self._get("action/getdomain", external_id) or []
        if isinstance(answer, dict):
            answer = answer.get("domains", [])
        names = (item.get("domain", "") if isinstance(item, dict) else item for item in answer)
        return [str(name).lower() for name in names if name]

    def site_domain_add(self, external_id: str, *, domain: str) -> None:
        try:
            self._site("action/setdomain", external_id, domain=domain)
        except PanelPermanentError as error:
            if error.status == 409 and domain in self.site_domains(external_id):
                return  # added by an attempt whose answer was lost: done
            if error.status == 409:
                raise _conflict(
                    error,
                    "This domain was not added: the site has all the custom domains its "
                    "plan allows, or the domain is in use already",
                ) from error
            raise

    def site_domain_delete(self, external_id: str, *, domain: str) -> None:
        self._gone_is_done("action/deldomain", external_id, domain=domain)

    def site_proxy_set(self, external_id: str, *, enabled: bool) -> None:
        self._site("action/toggle", external_id, enabled=enabled)

    def backups_list(self, external_id: str) -> list[dict[str, Any]]:
        answer = self._get("action/getbak", external_id) or []
        if isinstance(answer, dict):
            answer = answer.get("backups", [])
        return [_backup(item) for item in answer]

    def backup_create(self, external_id: str, *, name: str) -> dict[str, Any]:
        # Safe to send again: a backup of this name made by an attempt whose answer was
        # lost is adopted instead of making a second one.
        existing = next((b for b in self.backups_list(external_id) if b["name"] == name), None)
        if existing is not None:
            return existing
        try:
            response = self.http.request(
                "POST", "action/mkbak", json={"service_id": external_id, "name": name}
            )
        except PanelPermanentError as error:
            if error.status == 409:
                raise _conflict(
                    error,
                    "No backup was made: the site keeps all the backups its plan allows, "
                    "or a backup of this name exists",
                ) from error
            raise
        answer = response.json() if response.content else {}
        made = _backup(answer) if isinstance(answer, dict) else {}
        return {**made, "id": made.get("id") or name, "name": made.get("name") or name}

    def backup_delete(self, external_id: str, *, backup_id: str) -> None:
        self._gone_is_done("action/delbak", external_id, bak=backup_id)

    def backup_restore(self, external_id: str, *, backup_id: str) -> None:
        self._site("action/rollback", external_id, bak=backup_id)


def _conflict(error: PanelPermanentError, sentence: str) -> PanelPermanentError:
    """The backend's 409 as a sentence a customer understands (its own words kept)."""
    said = error.message.split(":", 1)[-1].strip()
    detail = f" (the site backend said: {said.rstrip('.')})" if said else ""
    return PanelPermanentError(f"{sentence}{detail}.", status=409)


def _backup(item: Any) -> dict[str, Any]:
    """One backup as the Backups protocol gives it: {"id", "name", "created_at"}."""
    if not isinstance(item, dict):
        return {"id": str(item), "name": str(item), "created_at": ""}
    ident = str(item.get("id") or item.get("bak") or item.get("name") or "")
    return {
        "id": ident,
        "name": str(item.get("name") or ident),
        "created_at": str(item.get("created_at") or item.get("created") or ""),
    }
