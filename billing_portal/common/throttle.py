"""Rate limits on the forms that send email or check a password (django-ratelimit).

Each form has two limits, set in settings.THROTTLE_RATES: per submitted address (lower-cased,
so case variants share one count) and per client IP (`client_ip`, so the address behind the
proxies, IPv6 counted per /64 by django-ratelimit). Every POST counts against both; one
over either limit is answered 429 with a page that says what was paused and for how long,
before the view runs, so no email is queued and no password is checked. Axes' lockout per
email + IP stays in front of the password check as well; these limits add what it cannot
see: one IP trying many accounts, and many IPs trying one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from billing_portal.common.request import client_ip

logger = logging.getLogger(__name__)

# Requests whose address is unknown (a misconfigured proxy) share one count.
UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 (a bucket name, nothing listens on it)


@dataclass(frozen=True)
class Throttled:
    """What the 429 page says for one form."""

    heading: str
    outcome: str


THROTTLED = {
    "login": Throttled("Too many login attempts", "Your password was not checked."),
    "password_reset": Throttled("Too many password reset requests", "No email was sent."),
    "verification_resend": Throttled("Too many verification link requests", "No email was sent."),
    "register": Throttled("Too many sign-ups", "No account was created."),
}


def throttle_ip(request: HttpRequest) -> str:
    """The address django-ratelimit's "ip" key counts (RATELIMIT_IP_META_KEY)."""
    return client_ip(request) or UNKNOWN_ADDRESS


def _address_key(field: str) -> Callable[[str, HttpRequest], str]:
    return lambda group, request: request.POST.get(field, "").strip().lower()


def throttle_refusal(request: HttpRequest, *, group: str, field: str) -> HttpResponse | None:
    """Count this request against `group`'s limits; the 429 page when it is over one."""
    rates = settings.THROTTLE_RATES[group]
    try:
        usages = [
            get_usage(
                request,
                group=f"{group}:address",
                key=_address_key(field),
                rate=rates["address"],
                method="POST",
                increment=True,
            ),
            get_usage(
                request,
                group=f"{group}:ip",
                key="ip",
                rate=rates["ip"],
                method="POST",
                increment=True,
            ),
        ]
    except (RedisError, OSError) as error:
        # The cache is down: let the request through rather than refuse every login and
        # reset while it is (axes, in the database, still locks out password guessing).
        logger.warning("Throttle %s not counted, the cache is unreachable: %s", group, error)
        return None
    exceeded = [usage for usage in usages if usage and usage["should_limit"]]
    if not exceeded:
        return None
    wait = max(1, *(usage["time_left"] for usage in exceeded))
    context = {"throttled": THROTTLED[group], "retry_after": timedelta(seconds=wait)}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


def throttled(group: str, *, field: str) -> Callable:
    """View decorator: POSTs over `group`'s limits get the 429 page instead of the view."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            refusal = throttle_refusal(request, group=group, field=field)
            return refusal or view(request, *args, **kwargs)

        return wrapped

    return decorator
