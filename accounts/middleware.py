"""The account middlewares: the second-factor gate and the signed-in session's clock.

The second-factor gate: after django-otp's OTPMiddleware has marked whether this session
was verified by a second factor, a signed-in user who has a factor but did not use it is sent
to the code prompt, and a user who must have one (staff always; customers when
OTP_REQUIRED_FOR_CUSTOMERS is on) but has none is sent to enrolment, before any other page,
the admin included. A session where staff act as a customer passes: starting it required a
verified staff session (accounts.acting.may_act_as). Whether the user has a factor is
recorded in the session at login (accounts.receivers), so verified and factor-less sessions
cost no query here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from urllib.parse import urlencode

from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from accounts import second_factor, user_sessions
from accounts import session_keys as keys
from accounts.acting import is_acting
from accounts.session_keys import HAS_FACTOR
from billing_portal.common.request import RequestMeta

# Where django-hijack records the staff users acting as the signed-in user.
HIJACK_HISTORY = "hijack_history"
# Pages a session in either state may open: logging out, and what serves the pages.
ALWAYS_OPEN = ("/static/", "/healthz", "/webhooks/", "/metrics", "/favicon.ico")


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @cached_property
    def _prompt_paths(self) -> tuple[str, ...]:
        return (
            reverse("accounts:login_code"),
            reverse("accounts:login_passkey"),
            reverse("accounts:logout"),
        )

    @cached_property
    def _enrol_paths(self) -> tuple[str, ...]:
        return (
            reverse("accounts:security"),
            reverse("accounts:totp_enrol"),
            reverse("accounts:passkey_register"),
            reverse("accounts:logout"),
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or user.is_verified() or request.path.startswith(ALWAYS_OPEN):
            return self.get_response(request)
        if is_acting(request):  # staff acting as the customer passed their own second factor
            return self.get_response(request)
        has_factor = request.session.get(HAS_FACTOR)
        if has_factor is None:  # a session from before the gate: ask once, then remember
            has_factor = second_factor.user_has_second_factor(user=user)
            request.session[HAS_FACTOR] = has_factor
        if has_factor:
            if request.path in self._prompt_paths:
                return self.get_response(request)
            return self._refuse(request, "accounts:login_code", "Enter your second factor.")
        if second_factor.second_factor_required(user=user):
            if request.path in self._enrol_paths:
                return self.get_response(request)
            return self._refuse(request, "accounts:security", "Set up a second factor first.")
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, url_name: str, message: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            # The API's one error shape (billing_portal/common/api_errors.py).
            body = {"type": "client_error", "code": "second_factor_required", "detail": message}
            return JsonResponse({**body, "errors": {}}, status=403)
        target = reverse(url_name)
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(target)


class SessionActivityMiddleware:
    """The signed-in session's clock (accounts/user_sessions.py): a session past its lifetime
    or idle too long is logged out before the view; otherwise its last-seen time, address and
    row are written (at most once a minute, and again after a view that logged in or rotated
    the key), renewing the expiry Django stores: the idle timeout from now, cut at the
    lifetime. Only sessions signed in by the session cookie count (not API keys)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        now = time.time()
        if _signed_in(request):
            session = request.session
            started, seen = session.get(keys.SESSION_STARTED), session.get(keys.SESSION_SEEN)
            if isinstance(started, float) and user_sessions.session_is_over(
                staff=_staff_clock(request),
                started_at=started,
                seen_at=seen if isinstance(seen, float) else None,
                now=now,
            ):
                logout(request)
            else:
                self._seen(request, now)  # before the view, so the sessions page lists it
        response = self.get_response(request)
        if _signed_in(request):
            self._seen(request, now)  # after a login or a key rotation in the view
        return response

    @staticmethod
    def _seen(request: HttpRequest, now: float) -> None:
        session = request.session
        started = session.get(keys.SESSION_STARTED)
        if not isinstance(started, float):  # just logged in (or signed in before this clock)
            started = session[keys.SESSION_STARTED] = now
        if session.session_key is None:  # a login that emptied the session: give it its key
            session.save()
        seen, record = session.get(keys.SESSION_SEEN), session.get(keys.SESSION_RECORD)
        if (
            isinstance(seen, float)
            and now - seen < user_sessions.TOUCH_SECONDS
            and record is not None
            and session.get(keys.SESSION_RECORD_KEY) == session.session_key
        ):
            return
        left = user_sessions.session_seconds_left(
            staff=_staff_clock(request), started_at=started, now=now
        )
        session[keys.SESSION_RECORD] = user_sessions.user_session_seen(
            user=request.user,
            session_key=session.session_key,
            record_id=record if isinstance(record, int) else None,
            started_at=started,
            seconds_left=left,
            meta=RequestMeta.from_request(request),
        )
        session[keys.SESSION_RECORD_KEY] = session.session_key
        session[keys.SESSION_SEEN] = now
        session.set_expiry(left)


def _staff_clock(request: HttpRequest) -> bool:
    # Staff's shorter timeouts, also while a staff user acts as a customer (django-hijack
    # keeps who is acting in the session).
    return bool(request.user.is_staff or request.session.get(HIJACK_HISTORY))


def _signed_in(request: HttpRequest) -> bool:
    # The session says whose it is: after an API request DRF has put the key's user on
    # request.user, with no signed-in session behind it.
    session = getattr(request, "session", None)
    return bool(
        session is not None
        and request.user.is_authenticated
        and session.get(SESSION_KEY) == str(request.user.pk)
    )
