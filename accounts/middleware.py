"""The second-factor gate: after django-otp's OTPMiddleware has marked whether this session
was verified by a second factor, a signed-in user who has a factor but did not use it is sent
to the code prompt, and a user who must have one (staff always; customers when
OTP_REQUIRED_FOR_CUSTOMERS is on) but has none is sent to enrolment, before any other page,
the admin included. Whether the user has a factor is recorded in the session at login
(accounts.receivers), so verified and factor-less sessions cost no query here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from accounts import second_factor
from accounts.session_keys import HAS_FACTOR

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
