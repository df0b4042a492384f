"""DirectAdmin adapter (legacy `CMD_API_*` commands, HTTP Basic with a login key): web hosting.

Answers are URL-encoded (`error=0&text=...&details=...`), usually with HTTP 200 even on
failure, with some characters as HTML entities: they are decoded, then parsed, and `error=1`
becomes a PanelPermanentError with DirectAdmin's own text. An HTML page means the login was
refused. The account's username is derived from our service id, so a create repeated after a
lost answer finds the account it made (and adopts it when the domain matches).
"""

from __future__ import annotations

import html
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


def parse_answer(response: requests.Response) -> dict[str, list[str]]:
    """DirectAdmin's URL-encoded answer as a dict of lists; errors raised."""
    if "text/html" in response.headers.get("Content-Type", ""):
        raise PanelPermanentError(
            "DirectAdmin refused the login (it answered with its login page).",
            status=response.status_code,
        )
    values = parse_qs(html.unescape(response.text), keep_blank_values=True)
    if values.get("error", ["0"])[0] == "1":
        text = values.get("text", [""])[0]
        details = values.get("details", [""])[0]
        message = f"{text}: {details}" if details else text
        raise PanelPermanentError(f"DirectAdmin: {message or 'unknown error'}"[:300])
    return values


def username_for(spec: AccountSpec) -> str:
    """Short, lowercase, alphanumeric and unique per service (DirectAdmin's limits vary)."""
    return spec.username or f"u{spec.service_id:07d}"[:10]


class DirectAdminPanel:
    def __init__(self, credentials: ServerCredentials) -> None:
        self.base_url = credentials.base_url.rstrip("/")
        self.default_ip = credentials.options.get("ip", "")
        self.http = PanelHttp(panel=PANEL, base_url=self.base_url, headers={})
        self.http.session.auth = (credentials.secrets["username"], credentials.secrets["password"])

    def _command(
        self, method: str, command: str, *, timeout: float | None = None, **params: Any
    ) -> dict[str, list[str]]:
        kwargs: dict[str, Any] = {"params": params} if method == "GET" else {"data": params}
        if timeout:
            kwargs["timeout"] = timeout
        return parse_answer(self.http.request(method, command, **kwargs))

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
