"""Who made a request: client IP and user agent, for audit events, login lockouts and
throttles."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

USER_AGENT_MAX_LENGTH = 512


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: with N = TRUSTED_PROXY_COUNT proxies in front of the portal,
    the N-th address from the right of X-Forwarded-For; with none, REMOTE_ADDR.

    Why the N-th from the right: each proxy appends the address its request came from. With
    proxies P1 (facing the internet) ... PN (nearest the portal), P1 appends the client, P2
    appends P1, ..., PN appends P(N-1), and REMOTE_ADDR is PN. So the right-most N-1 entries
    are our own proxies, the N-th from the right is the peer our outermost proxy saw, and
    everything left of it came from the client, who can write anything there: it is never
    read.

    A header with fewer than N entries means the chain is shorter than configured
    (TRUSTED_PROXY_COUNT too high); every entry in it was then written by one of our
    proxies, so the left-most is the furthest hop known, and the best guess at the client.
    Without the header at all the request did not pass through the proxies (a health
    probe, a local call) and REMOTE_ADDR is all there is. An entry that is not an IP
    address ("unknown", a port appended) is a proxy misconfiguration: no address.

    Used by axes (AXES_CLIENT_IP_CALLABLE), the throttles and the audit log, so all three
    agree on the address.
    """
    proxy_count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "") if proxy_count else ""
    hops = [hop.strip() for hop in forwarded.split(",")] if forwarded.strip() else []
    if hops:
        candidate = hops[-proxy_count] if len(hops) >= proxy_count else hops[0]
    else:
        candidate = request.META.get("REMOTE_ADDR", "")
    return _valid_address(candidate)


def _valid_address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


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
