"""VirtFusion adapter (API v1, Bearer token): network I/O only.

Customers are linked by `extRelationId` = our customer id. This slice holds what the dual
wallet needs: the connection test, find-or-create of the user, self-service token credit
(add, cancel) and the token balance. Server lifecycle calls join it with the provisioning
issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from provisioning.errors import PanelError, PanelPermanentError
from provisioning.panels.http import CREATE_TIMEOUT, PanelHttp

PANEL = "VirtFusion"
BALANCE_TIMEOUT = 5  # the Billing page waits for the balance: fail fast, show "unreachable"
# Self-service access for users the portal creates: hourly billing paid from token credit.
SELF_SERVICE_HOURLY = 1


@dataclass(frozen=True)
class VirtFusionUser:
    id: int
    ext_relation_id: int
    email: str


def _json_number(value: Decimal) -> int | float:
    """JSON has one number type: send whole token counts as integers, others (quantized to
    0.01, whose shortest float repr is the same decimal) as numbers with decimals."""
    return int(value) if value == value.to_integral_value() else float(value)


def _user(data: dict[str, Any]) -> VirtFusionUser:
    return VirtFusionUser(
        id=int(data["id"]),
        ext_relation_id=int(data.get("extRelationId") or 0),
        email=data.get("email", ""),
    )


class VirtFusionClient:
    def __init__(self, *, base_url: str, api_token: str) -> None:
        self.http = PanelHttp(
            panel=PANEL,
            base_url=f"{base_url.rstrip('/')}/api/v1",
            headers={
                "Authorization": f"Bearer {api_token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )

    @classmethod
    def from_settings(cls) -> VirtFusionClient | None:
        """The site's VirtFusion panel, or None when none is configured."""
        if not (settings.VIRTFUSION_URL and settings.VIRTFUSION_API_TOKEN):
            return None
        return cls(base_url=settings.VIRTFUSION_URL, api_token=settings.VIRTFUSION_API_TOKEN)

    def test_connection(self) -> None:
        self.http.request("GET", "connect")

    # --- Users ------------------------------------------------------------------------

    def user_get(self, *, ext_relation_id: int) -> VirtFusionUser | None:
        """The user linked to our customer, or None (404) when there is none yet."""
        try:
            response = self.http.request("GET", f"users/{ext_relation_id}/byExtRelation")
        except PanelPermanentError as error:
            if error.status == 404:
                return None
            raise
        return _user(response.json()["data"])

    def user_ensure(self, *, ext_relation_id: int, name: str, email: str) -> VirtFusionUser:
        """Find the user by our customer id, or create it: look-up first, so repeating this
        after a lost answer finds the user the first call made instead of making a second."""
        found = self.user_get(ext_relation_id=ext_relation_id)
        if found is not None:
            return found
        response = self.http.request(
            "POST",
            "users",
            timeout=CREATE_TIMEOUT,
            json={
                "name": name,
                "email": email,
                "extRelationId": ext_relation_id,
                "selfService": SELF_SERVICE_HOURLY,
                "selfServiceHourlyCredit": True,
                "sendMail": False,
            },
        )
        return _user(response.json()["data"])

    # --- Self-service token credit ----------------------------------------------------

    def token_credit_add(
        self, *, ext_relation_id: int, tokens: Decimal, reference_1: int, reference_2: str
    ) -> int:
        """Add `tokens` to the user's hourly credit; returns VirtFusion's credit entry id.
        Not idempotent on VirtFusion's side: callers must not resend after a lost answer."""
        response = self.http.request(
            "POST",
            f"selfService/credit/byUserExtRelationId/{ext_relation_id}",
            json={
                "tokens": _json_number(tokens),
                "reference_1": reference_1,
                "reference_2": reference_2[:1000],
            },
        )
        return int(response.json()["data"]["id"])

    def token_credit_cancel(self, *, credit_id: int) -> None:
        self.http.request("DELETE", f"selfService/credit/{credit_id}")

    def token_balance(self, *, ext_relation_id: int) -> Decimal | None:
        """The user's token credit, or None when the user does not exist in VirtFusion.

        Read from the hourly statistics (`data.credit.value`, as in VirtFusion's OpenAPI
        description); the users endpoint does not carry it."""
        try:
            response = self.http.request(
                "GET",
                f"selfService/hourlyStats/byUserExtRelationId/{ext_relation_id}",
                timeout=BALANCE_TIMEOUT,
            )
        except PanelPermanentError as error:
            if error.status == 404:
                return None
            raise
        try:
            value = response.json()["data"]["credit"]["value"]
            return Decimal(str(value))
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise PanelError(
                "VirtFusion's statistics did not include a credit balance.", retryable=False
            ) from error
