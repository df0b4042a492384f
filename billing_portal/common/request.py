"""Who made a request: client IP and user agent, for audit events and login throttling."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

USER_AGENT_MAX_LENGTH = 512


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, trusting X-Forwarded-For only from TRUSTED_PROXY_COUNT proxies.

    Used by axes (AXES_CLIENT_IP_CALLABLE) and the audit log so both agree on the address.
    """
    proxy_count = settings.TRUSTED_PROXY_COUNT
    if not proxy_count:
        return request.META.get("REMOTE_ADDR") or None
    ip, _routable = get_client_ip(request, proxy_count=proxy_count)
    return ip


@dataclass(frozen=True)
class RequestMeta:
    """The parts of a request that services record, so services never take HttpRequest."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> RequestMeta:
        if request is None:
            return cls()
        agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH]
        return cls(ip_address=client_ip(request), user_agent=agent)
