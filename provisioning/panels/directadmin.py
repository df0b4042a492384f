"""DirectAdmin adapter (legacy `CMD_API_*` commands, HTTP Basic with a login key): web hosting.

Answers are URL-encoded (`error=0&text=...&details=...`), usually with HTTP 200 even on
failure, with some characters as HTML entities: they are decoded, then parsed, and `error=1`
becomes a PanelPermanentError with DirectAdmin's own text. An HTML page means the login was
refused. The account's username is derived from our service id, so a create repeated after a
lost answer finds the account it made (and adopts it when the domain matches).

Self-service (statistics, domains, new databases, one-click login) -- the contract
implemented here. The server option `DIRECTADMIN_API_VERSION` ("legacy", the default, or
"v2") chooses between the legacy commands and DirectAdmin's newer JSON API. Calls made for
the customer's own account use DirectAdmin's "login as": Basic `<our user>|<their user>`
with our key (external-apis.md section 3, Auth).

Legacy (`CMD_API_*`, URL-encoded answers as above):
- `GET /CMD_API_SHOW_USER_USAGE?user=` -> usage map; used keys `quota` (disk MB),
  `bandwidth` (MB this month), `vdomains`, `nemails`, `mysql` (external-apis.md lists the
  command; the key names are from maintained clients: provisional);
- `GET /CMD_API_SHOW_USER_CONFIG?user=` -> the same keys as limits (a number or
  "unlimited"; provisional key names as above);
- `GET /CMD_API_SHOW_USER_DOMAINS?user=` -> one key per domain, value
  `bandwidth_used:bandwidth_limit:disk_used:log_usage:subdomains:suspended:quota:ssl:cgi:php`
  (field order provisional, from client libraries; `ssl` ON/OFF counts the certificates);
- `POST /CMD_API_DATABASES` as the user: `action=create`, `name`, `user`, `passwd`,
  `passwd2` (DirectAdmin prefixes name and user with `<user>_`; from client libraries:
  provisional).

v2 (JSON API; from DirectAdmin's published swagger via a generated client: provisional):
- `GET /api/users/{user}/usage` -> `{"quotaBytes": {"usage", "limit", "unlimited"},
  "bandwidthBytes": {...}, "domains": {...}, "emailAccounts": {...},
  "mySqlDatabases": {...}, ...}`;
- `POST /api/db-manage/create-db-with-user` as the user, JSON `{"database", "dbuser",
  "password"}` with the full `<user>_` names -> `{"database", "dbuser", "password", ...}`;
- `POST /api/login-keys/urls` as the user, JSON `{"allowNetworks": []}` -> `{"url", ...}`;
- errors: HTTP 4xx/5xx with a JSON `message` (mapped by the shared HTTP layer);
- the schema has no domain list: domains (and the SSL count) come from the legacy command.
"""

from __future__ import annotations

import html
import re
import secrets
from typing import Any
from urllib.parse import parse_qs

import requests

from provisioning.errors import PanelPermanentError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials, SettingSpec
from provisioning.panels.http import CREATE_TIMEOUT, PanelHttp

PANEL = "DirectAdmin"
LABEL = "DirectAdmin (web hosting)"
PRODUCT_SETTINGS = (
    SettingSpec("package", "DirectAdmin package name"),
    SettingSpec("ip", "IP address (default: the server's)", required=False),
)
LOOKUPS = {"Packages": "packages", "IP addresses": "ips"}
API_VERSION_OPTION = "DIRECTADMIN_API_VERSION"
MB = 1024 * 1024


def parse_answer(response: requests.Response) -> dict[str, list[str]]:
    """DirectAdmin's URL-encoded answer as a dict of lists; errors raised."""
    if "text/html" in response.headers.get("Content-Type", ""):
        raise PanelPermanentError(
            "DirectAdmin refused the login (it answered with its login page).",
            status=response.status_code,
        )
    values = parse_qs(_unescape(response.text), keep_blank_values=True)
    if values.get("error", ["0"])[0] == "1":
        text = values.get("text", [""])[0]
        details = values.get("details", [""])[0]
        message = f"{text}: {details}" if details else text
        raise PanelPermanentError(f"DirectAdmin: {message or 'unknown error'}"[:300])
    return values


# Only complete entities (`&#44;`, `&amp;`): html.unescape alone also reads HTML's legacy
# entities without a semicolon, and would turn the answer's own "&quota=" into '"a='.
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda match: html.unescape(match.group(0)), text)


def username_for(spec: AccountSpec) -> str:
    """Short, lowercase, alphanumeric and unique per service (DirectAdmin's limits vary)."""
    return spec.username or f"u{spec.service_id:07d}"[:10]


class DirectAdminPanel:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.base_url = credentials.base_url.rstrip("/")
        self.default_ip = credentials.options.get("ip", "")
        self.json_api = str(credentials.options.get(API_VERSION_OPTION, "legacy")).lower() == "v2"
        self.http = PanelHttp(panel=PANEL, base_url=self.base_url, headers={})
        self._login = (credentials.secrets["username"], credentials.secrets["password"])
        self.http.session.auth = self._login

    def _command(
        self,
        method: str,
        command: str,
        *,
        timeout: float | None = None,
        as_user: str = "",
        **params: Any,
    ) -> dict[str, list[str]]:
        kwargs: dict[str, Any] = {"params": params} if method == "GET" else {"data": params}
        if timeout:
            kwargs["timeout"] = timeout
        if as_user:
            kwargs["auth"] = self._as(as_user)
        return parse_answer(self.http.request(method, command, **kwargs))

    def _as(self, username: str) -> tuple[str, str]:
        """Basic auth acting as the customer's account ("login as")."""
        return (f"{self._login[0]}|{username}", self._login[1])

    def _json(
        self, method: str, path: str, *, as_user: str = "", body: dict[str, Any] | None = None
    ) -> Any:
        kwargs: dict[str, Any] = {"headers": {"Accept": "application/json"}}
        if body is not None:
            kwargs["json"] = body
        if as_user:
            kwargs["auth"] = self._as(as_user)
        response = self.http.request(method, path, **kwargs)
        if "text/html" in response.headers.get("Content-Type", ""):
            raise PanelPermanentError(
                "DirectAdmin refused the login (it answered with its login page).",
                status=response.status_code,
            )
        return response.json() if response.content else {}

    def test_connection(self) -> None:
        self._command("GET", "CMD_API_SHOW_RESELLER_IPS")

    def packages(self) -> list[str]:
        return self._command("GET", "CMD_API_PACKAGES_USER").get("list[]", [])

    def ips(self) -> list[str]:
        return self._command("GET", "CMD_API_SHOW_RESELLER_IPS").get("list[]", [])

    def _config(self, username: str) -> dict[str, list[str]] | None:
        try:
            return self._command("GET", "CMD_API_SHOW_USER_CONFIG", user=username)
        except PanelPermanentError as error:
            if error.status:  # an HTTP-level refusal, not "no such user"
                raise
            return None

    def create(self, spec: AccountSpec) -> ProvisionResult:
        username = username_for(spec)
        result = ProvisionResult(
            external_id=username,
            username=username,
            panel_url=self.base_url,
            details={"domain": spec.domain},
        )
        existing = self._config(username)
        if existing is not None:
            if existing.get("domain", [""])[0] != spec.domain:
                raise PanelPermanentError(
                    f"DirectAdmin already has a user {username} for another domain."
                )
            return result  # made by an earlier attempt whose answer was lost: adopt it
        password = secrets.token_urlsafe(12)
        self._command(
            "POST",
            "CMD_API_ACCOUNT_USER",
            timeout=CREATE_TIMEOUT,
            action="create",
            add="Submit",
            username=username,
            email=spec.email,
            passwd=password,
            passwd2=password,
            domain=spec.domain,
            package=spec.settings["package"],
            ip=spec.settings.get("ip") or self.default_ip,
            notify="no",
        )
        return ProvisionResult(**{**result.__dict__, "secrets": {"password": password}})

    def suspend(self, external_id: str, *, reason: str) -> None:
        self._command(
            "POST",
            "CMD_API_SELECT_USERS",
            location="CMD_SELECT_USERS",
            dosuspend="yes",
            select0=external_id,
        )

    def unsuspend(self, external_id: str) -> None:
        self._command(
            "POST",
            "CMD_API_SELECT_USERS",
            location="CMD_SELECT_USERS",
            dounsuspend="yes",
            select0=external_id,
        )

    def terminate(self, external_id: str) -> None:
        if self._config(external_id) is None:
            return  # already gone
        self._command(
            "POST", "CMD_API_SELECT_USERS", confirmed="Confirm", delete="yes", select0=external_id
        )

    def change_package(self, external_id: str, *, settings: dict[str, Any]) -> None:
        self._command(
            "POST",
            "CMD_API_MODIFY_USER",
            action="package",
            user=external_id,
            package=settings["package"],
        )

    def login_url(self, external_id: str, *, spec: AccountSpec) -> str:
        if self.json_api:
            answer = self._json(
                "POST", "api/login-keys/urls", as_user=external_id, body={"allowNetworks": []}
            )
            return str(answer.get("url") or self.base_url)
        answer = self._command(
            "POST",
            "CMD_API_LOGIN_KEYS",
            action="create",
            type="one_time_url",
            expiry="5m",
            user=external_id,
        )
        return answer.get("details", [self.base_url])[0]

    def usage(self, external_id: str) -> dict[str, Any]:
        answer = self._command("GET", "CMD_API_SHOW_USER_USAGE", user=external_id)
        return {key: values[0] for key, values in answer.items()}

    # --- self-service: statistics, domains, databases (see the contract above) ---------

    def hosting_stats(self, external_id: str) -> dict[str, Any]:
        stats = self._stats_v2(external_id) if self.json_api else self._stats_legacy(external_id)
        domains = self.hosting_domains(external_id)
        return {**stats, "ssl_certificates": sum(1 for d in domains if d["ssl"])}

    def _stats_legacy(self, external_id: str) -> dict[str, Any]:
        used = self._command("GET", "CMD_API_SHOW_USER_USAGE", user=external_id)
        limits = self._command("GET", "CMD_API_SHOW_USER_CONFIG", user=external_id)
        names = {
            "domains": "vdomains",
            "databases": "mysql",
            "email_accounts": "nemails",
            "storage_mb": "quota",
            "bandwidth_mb": "bandwidth",
        }
        stats: dict[str, Any] = {}
        for name, key in names.items():
            stats[name] = _number(used.get(key, [""])[0])
            stats[f"{name}_limit"] = _number(limits.get(key, [""])[0])
        return stats

    def _stats_v2(self, external_id: str) -> dict[str, Any]:
        usage = self._json("GET", f"api/users/{external_id}/usage")
        names = {
            "domains": ("domains", 1),
            "databases": ("mySqlDatabases", 1),
            "email_accounts": ("emailAccounts", 1),
            "storage_mb": ("quotaBytes", MB),
            "bandwidth_mb": ("bandwidthBytes", MB),
        }
        stats: dict[str, Any] = {}
        for name, (key, unit) in names.items():
            entry = usage.get(key) or {}
            used = entry.get("usage")
            stats[name] = round(used / unit) if isinstance(used, int | float) else None
            limit = entry.get("limit")
            if isinstance(limit, int | float) and not entry.get("unlimited"):
                stats[f"{name}_limit"] = round(limit / unit)
            else:
                stats[f"{name}_limit"] = None
        return stats

    def hosting_domains(self, external_id: str) -> list[dict[str, Any]]:
        answer = self._command("GET", "CMD_API_SHOW_USER_DOMAINS", user=external_id)
        domains = []
        for name, values in sorted(answer.items()):
            if name in ("error", "text", "details") or "." not in name:
                continue
            fields = values[0].split(":")
            domains.append(
                {
                    "domain": name,
                    "bandwidth_mb": _number(fields[0]) if fields else None,
                    "disk_mb": _number(fields[2]) if len(fields) > 2 else None,
                    "ssl": len(fields) > 7 and fields[7].upper() == "ON",
                }
            )
        return domains

    def database_create(
        self, external_id: str, *, name: str, user: str, password: str
    ) -> dict[str, Any]:
        database, dbuser = f"{external_id}_{name}", f"{external_id}_{user}"
        if self.json_api:
            answer = self._json(
                "POST",
                "api/db-manage/create-db-with-user",
                as_user=external_id,
                body={"database": database, "dbuser": dbuser, "password": password},
            )
            database = str(answer.get("database") or database)
            dbuser = str(answer.get("dbuser") or dbuser)
        else:
            self._command(
                "POST",
                "CMD_API_DATABASES",
                as_user=external_id,
                action="create",
                name=name,
                user=user,
                passwd=password,
                passwd2=password,
            )
        return {"database": database, "user": dbuser, "password": password}


def _number(value: str) -> int | None:
    """A DirectAdmin figure ("12.5", "unlimited", "") as whole units, None when none."""
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return None
