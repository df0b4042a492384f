"""`Authorization: Bearer <key>`: the API key authentication (keys: accounts.models.ApiKey)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import ApiKey, User
from accounts.services import api_key_authenticate
from billing_portal.common.request import client_ip

REFUSED = (
    "The API key is not valid: it is unknown, expired or revoked, or not allowed from this address."
)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # not ours: the session may authenticate the request
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send one key after Bearer.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed(REFUSED) from error
        api_key = api_key_authenticate(token=token, ip_address=client_ip(request))
        if api_key is None:
            raise exceptions.AuthenticationFailed(REFUSED)
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The scheme in the OpenAPI schema: HTTP bearer."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API key: bpk_…"}
