"""Client-area pages of the second factor: the code prompt after the password, passkey
sign-in, the security page (enrol an authenticator app or passkeys, recovery codes) and the
re-authentication that guards removing a factor. Services: accounts/second_factor.py."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, login
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django_otp import login as otp_login
from django_otp.models import Device

from accounts import second_factor as sf
from accounts import session_keys as keys
from accounts import user_sessions
from accounts.errors import SecondFactorError
from accounts.forms import PasskeyNameForm, ReauthForm, SecondFactorCodeForm, TotpConfirmForm
from accounts.mixins import NotWhileActingMixin
from accounts.models import Passkey, User
from accounts.selectors import user_session_list_for_user
from billing_portal.common.request import RequestMeta

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- Helpers ------------------------------------------------------------------------------


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def relying_party(request: HttpRequest) -> sf.RelyingParty:
    host = request.get_host().rsplit(":", 1)[0] if "]" not in request.get_host() else ""
    origin = f"{request.scheme}://{request.get_host()}"
    return sf.RelyingParty(
        rp_id=settings.WEBAUTHN_RP_ID or host,
        origins=list(settings.WEBAUTHN_ORIGINS) or [origin],
        name=settings.PORTAL_NAME,
    )


def pending_start(request: HttpRequest, user: User) -> None:
    """The password was right and the user has a second factor: remember who, not logged in
    yet, until the code prompt accepts a factor (or SECOND_FACTOR_PENDING_SECONDS pass)."""
    request.session.cycle_key()
    request.session[keys.PENDING] = {
        "user": user.pk,
        "backend": getattr(user, "backend", MODEL_BACKEND),
        "at": time.time(),
    }


def _pending_user(request: HttpRequest) -> tuple[User | None, str]:
    """The user this prompt is for: the one whose password was just accepted, or a signed-in
    user with a factor whose session did not use it."""
    if request.user.is_authenticated:
        return request.user, request.session.get(BACKEND_SESSION_KEY, MODEL_BACKEND)
    pending = request.session.get(keys.PENDING)
    if not isinstance(pending, dict):
        return None, ""
    if time.time() - float(pending.get("at", 0)) > settings.SECOND_FACTOR_PENDING_SECONDS:
        request.session.pop(keys.PENDING, None)
        return None, ""
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    return user, str(pending.get("backend") or MODEL_BACKEND)


def _complete_login(request: HttpRequest, user: User, backend: str, device: Device) -> None:
    request.session.pop(keys.PENDING, None)
    if not request.user.is_authenticated:
        login(request, user, backend=backend)
    otp_login(request, device)
    request.session[keys.HAS_FACTOR] = True


def _default_after_login(user: User) -> str:
    return reverse("admin:index") if user.is_staff else reverse(settings.LOGIN_REDIRECT_URL)


def _lockout(request: HttpRequest, email: str) -> HttpResponse:
    # AxesMiddleware turns a request marked locked out into its lockout page (429).
    request.axes_locked_out = True  # type: ignore[attr-defined]
    request.axes_credentials = {"username": email}  # type: ignore[attr-defined]
    request.session.pop(keys.PENDING, None)
    return HttpResponse(status=429)


def _code_refused(request: HttpRequest, user: User) -> bool:
    """Count a wrong code as a failed login (axes and the audit log); True once locked out."""
    user_login_failed.send(sender=__name__, credentials={"username": user.email}, request=request)
    return bool(getattr(request, "axes_locked_out", False))


# --- The code prompt ----------------------------------------------------------------------


class LoginCodeView(View):
    template_name = "accounts/login_code.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user, _ = _pending_user(request)
        if user is None:
            return redirect("accounts:login")
        return self._render(request, user, SecondFactorCodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        user, backend = _pending_user(request)
        if user is None:
            messages.error(request, "Your sign-in expired. Enter your password again.")
            return redirect("accounts:login")
        credentials = {"username": user.email}
        if AxesProxyHandler.is_locked(request, credentials):
            return _lockout(request, user.email)
        form = SecondFactorCodeForm(request.POST)
        if not form.is_valid():
            return self._render(request, user, form, status=400)
        try:
            device = sf.second_factor_check(
                user=user, token=form.cleaned_data["code"], meta=RequestMeta.from_request(request)
            )
        except SecondFactorError as error:
            if _code_refused(request, user):
                return _lockout(request, user.email)
            form.add_error("code", error.message)
            return self._render(request, user, form, status=400)
        _complete_login(request, user, backend, device)
        return HttpResponseRedirect(safe_next(request, _default_after_login(user)))

    def _render(
        self, request: HttpRequest, user: User, form: SecondFactorCodeForm, status: int = 200
    ) -> HttpResponse:
        context = {
            "form": form,
            "next": safe_next(request, ""),
            "has_passkey": Passkey.objects.filter(user=user, confirmed=True).exists(),
        }
        return render(request, self.template_name, context, status=status)


# --- Passkey sign-in (as the second factor or as the only one) ----------------------------


class PasskeyLoginOptionsView(View):
    """POST: options for navigator.credentials.get(); for the user whose password was just
    accepted, their passkeys; otherwise any passkey of this portal (first factor)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        user, _ = _pending_user(request)
        options, challenge = sf.passkey_authentication_options(rp=relying_party(request), user=user)
        request.session[keys.PASSKEY_LOGIN_CHALLENGE] = challenge.hex()
        return HttpResponse(options, content_type="application/json")


class PasskeyLoginView(View):
    """POST (JSON body: the credential): sign in with the passkey that signed the challenge."""

    def post(self, request: HttpRequest) -> HttpResponse:
        challenge = request.session.pop(keys.PASSKEY_LOGIN_CHALLENGE, None)
        if not challenge:
            return JsonResponse({"error": "Start again: the sign-in request expired."}, status=400)
        user, backend = _pending_user(request)
        try:
            passkey = sf.passkey_authenticate(
                credential=request.body.decode("utf-8", "replace"),
                challenge=bytes.fromhex(challenge),
                rp=relying_party(request),
                user=user,
            )
        except SecondFactorError as error:
            if user is not None and _code_refused(request, user):
                _lockout(request, user.email)
                return JsonResponse({"error": "Too many attempts."}, status=429)
            return JsonResponse({"error": error.message}, status=400)
        signed_in = passkey.user
        if not signed_in.is_email_verified:
            return JsonResponse({"error": "Please verify your email address first."}, status=400)
        _complete_login(request, signed_in, backend if user else MODEL_BACKEND, passkey)
        return JsonResponse({"redirect": safe_next(request, _default_after_login(signed_in))})


# --- Re-authentication --------------------------------------------------------------------


def reauth_is_recent(request: HttpRequest) -> bool:
    at = request.session.get(keys.REAUTH_AT)
    return isinstance(at, float) and time.time() - at <= settings.SECOND_FACTOR_REAUTH_SECONDS


def reauth_redirect(request: HttpRequest, back_to: str) -> HttpResponse:
    return HttpResponseRedirect(f"{reverse('accounts:reauth')}?{urlencode({'next': back_to})}")


class ReauthView(NotWhileActingMixin, LoginRequiredMixin, View):
    """The password and a current code again: changing the second factor or the email (any
    view calling `reauth_is_recent`) needs both from the last few minutes; a user without a
    second factor gives the password alone."""

    template_name = "accounts/reauth.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ReauthForm(with_code=self._with_code(request)))

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if AxesProxyHandler.is_locked(request, {"username": user.email}):
            return _lockout(request, user.email)
        form = ReauthForm(request.POST, with_code=self._with_code(request))
        if not form.is_valid():
            return self._render(request, form, status=400)
        if not user.check_password(form.cleaned_data["password"]):
            if _code_refused(request, user):
                return _lockout(request, user.email)
            form.add_error("password", "The password is incorrect.")
            return self._render(request, form, status=400)
        if "code" in form.fields:
            try:
                device = sf.second_factor_check(
                    user=user,
                    token=form.cleaned_data["code"],
                    meta=RequestMeta.from_request(request),
                )
            except SecondFactorError as error:
                if _code_refused(request, user):
                    return _lockout(request, user.email)
                form.add_error("code", error.message)
                return self._render(request, form, status=400)
            # The session now stands on this device, so removing another factor keeps it
            # verified.
            otp_login(request, device)
        request.session[keys.REAUTH_AT] = time.time()
        return HttpResponseRedirect(safe_next(request, reverse("accounts:security")))

    @staticmethod
    def _with_code(request: HttpRequest) -> bool:
        return sf.user_has_second_factor(user=request.user)

    def _render(self, request: HttpRequest, form: ReauthForm, status: int = 200) -> HttpResponse:
        context = {"form": form, "next": safe_next(request, "")}
        return render(request, self.template_name, context, status=status)


# --- The security page and enrolment ------------------------------------------------------

# More than this many are not listed (one "sign out all others" ends them all the same).
LISTED_MAX = 50


def _duration(seconds: int) -> str:
    """ "14 days", "12 hours", "30 minutes": in days or hours when it is a whole number of
    them (timeouts are set in round figures), else in minutes."""
    for unit, size in (("day", 86400), ("hour", 3600)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' * (count != 1)}"
    count = max(1, round(seconds / 60))
    return f"{count} minute{'s' * (count != 1)}"


def sessions_context(request: HttpRequest) -> dict[str, Any]:
    """The user's sessions for a page: this one first, then the others, most recent first."""
    rows = list(user_session_list_for_user(user=request.user)[: LISTED_MAX + 1])
    current_key = request.session.session_key
    for row in rows:
        row.is_current = row.session_key == current_key  # type: ignore[attr-defined]
    rows.sort(key=lambda row: not row.is_current)  # type: ignore[attr-defined]
    idle, lifetime = user_sessions.session_limits(staff=request.user.is_staff)
    return {
        "session_idle": _duration(idle),
        "session_lifetime": _duration(lifetime),
        "user_sessions": rows[:LISTED_MAX],
        "more_sessions": len(rows) > LISTED_MAX,
        "other_sessions": any(not row.is_current for row in rows),  # type: ignore[attr-defined]
    }


class SecurityView(LoginRequiredMixin, View):
    template_name = "accounts/security.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        context: dict[str, Any] = {
            "totp": sf.totp_device_for_user(user=user),
            "passkeys": sf.passkey_list_for_user(user=user),
            "recovery_left": sf.recovery_codes_left(user=user),
            "new_codes": request.session.pop(keys.NEW_RECOVERY_CODES, None),
            "required": sf.second_factor_required(user=user),
            "name_form": PasskeyNameForm(),
            "next": safe_next(request, ""),
            **sessions_context(request),
        }
        return render(request, self.template_name, context)


def _after_enrolment(request: HttpRequest, device: Device, codes: list[str]) -> None:
    otp_login(request, device)  # this session has just proved the new factor
    request.session[keys.HAS_FACTOR] = True
    if codes:
        request.session[keys.NEW_RECOVERY_CODES] = codes


class TotpEnrolView(NotWhileActingMixin, LoginRequiredMixin, View):
    template_name = "accounts/totp_enrol.html"
    acting_refused_what = "change the second factor"
    acting_refused_redirect = "accounts:security"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            request.user.is_authenticated
            and sf.totp_device_for_user(user=request.user) is not None
            and not reauth_is_recent(request)
        ):
            # Replacing the app removes the current one: the same check as removing it.
            return reauth_redirect(request, reverse("accounts:totp_enrol"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        key = sf.totp_key_new()
        request.session[keys.TOTP_SETUP] = key
        return self._render(request, key, TotpConfirmForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        key = request.session.get(keys.TOTP_SETUP)
        if not isinstance(key, str):
            messages.error(request, "This setup has expired. Start again.")
            return redirect("accounts:totp_enrol")
        form = TotpConfirmForm(request.POST)
        if form.is_valid():
            try:
                device, codes = sf.totp_enrol_confirm(
                    user=request.user,
                    key=key,
                    token=form.cleaned_data["code"],
                    meta=RequestMeta.from_request(request),
                )
            except SecondFactorError as error:
                form.add_error("code", error.message)
            else:
                request.session.pop(keys.TOTP_SETUP, None)
                _after_enrolment(request, device, codes)
                messages.success(request, "Your authenticator app is set up.")
                return HttpResponseRedirect(safe_next(request, reverse("accounts:security")))
        return self._render(request, key, form, status=400)

    def _render(
        self, request: HttpRequest, key: str, form: TotpConfirmForm, status: int = 200
    ) -> HttpResponse:
        device = sf.totp_setup_device(user=request.user, key=key)
        context = {
            "form": form,
            "qr_svg": sf.totp_qr_svg(device=device, user=request.user),
            "secret": sf.totp_secret_text(device=device),
            "next": safe_next(request, ""),
        }
        return render(request, self.template_name, context, status=status)


class PasskeyRegisterOptionsView(NotWhileActingMixin, LoginRequiredMixin, View):
    acting_refused_what = "change the second factor"
    acting_refused_redirect = "accounts:security"

    def post(self, request: HttpRequest) -> HttpResponse:
        options, challenge = sf.passkey_registration_options(
            user=request.user, rp=relying_party(request)
        )
        request.session[keys.PASSKEY_REGISTER_CHALLENGE] = challenge.hex()
        return HttpResponse(options, content_type="application/json")


class PasskeyRegisterView(NotWhileActingMixin, LoginRequiredMixin, View):
    """POST (JSON: {"name": ..., "credential": {...}}): store the new passkey."""

    acting_refused_what = "change the second factor"
    acting_refused_redirect = "accounts:security"

    def post(self, request: HttpRequest) -> HttpResponse:
        import json

        challenge = request.session.pop(keys.PASSKEY_REGISTER_CHALLENGE, None)
        if not challenge:
            return JsonResponse({"error": "Start again: the request expired."}, status=400)
        try:
            body = json.loads(request.body)
            form = PasskeyNameForm({"name": str(body.get("name", ""))[:200]})
            credential = json.dumps(body["credential"])
        except (ValueError, TypeError, KeyError, AttributeError):
            return JsonResponse({"error": "The passkey answer was not understood."}, status=400)
        if not form.is_valid():
            return JsonResponse({"error": " ".join(form.errors.get("name", []))}, status=400)
        try:
            passkey, codes = sf.passkey_register(
                user=request.user,
                credential=credential,
                challenge=bytes.fromhex(challenge),
                rp=relying_party(request),
                name=form.cleaned_data["name"],
                meta=RequestMeta.from_request(request),
            )
        except SecondFactorError as error:
            return JsonResponse({"error": error.message}, status=400)
        _after_enrolment(request, passkey, codes)
        messages.success(request, f"The passkey “{passkey.name}” was added.")
        return JsonResponse({"redirect": safe_next(request, reverse("accounts:security"))})


# --- Changes that need the password and a code again --------------------------------------


class _ReauthRequiredPost(NotWhileActingMixin, LoginRequiredMixin, View):
    acting_refused_what = "change the second factor"
    acting_refused_redirect = "accounts:security"

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not reauth_is_recent(request):
            messages.info(request, "Confirm it is you: enter your password and a current code.")
            return reauth_redirect(request, reverse("accounts:security"))
        response = self.change(request, **kwargs)
        request.session[keys.HAS_FACTOR] = sf.user_has_second_factor(user=request.user)
        return response

    def change(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        raise NotImplementedError

    @staticmethod
    def _keeps_a_factor(request: HttpRequest, *, without: str) -> bool:
        """Whether a user who must have a factor still has one after this removal."""
        user = request.user
        if not sf.second_factor_required(user=user):
            return True
        totp = sf.totp_device_for_user(user=user) is not None
        passkeys = len(sf.passkey_list_for_user(user=user))
        left = {
            "totp": passkeys > 0,
            "passkey": totp or passkeys > 1,
            "all": False,
        }[without]
        if not left:
            messages.error(request, "Your account must keep a second factor: add another first.")
        return left


class TotpRemoveView(_ReauthRequiredPost):
    def change(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if self._keeps_a_factor(request, without="totp"):
            sf.totp_remove(user=request.user, meta=RequestMeta.from_request(request))
            messages.success(request, "The authenticator app was removed.")
        return redirect("accounts:security")


class PasskeyRemoveView(_ReauthRequiredPost):
    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        # Someone else's passkey is not found, whether or not this session re-authenticated.
        if not Passkey.objects.filter(user=request.user, pk=kwargs["pk"]).exists():
            raise Http404
        return super().post(request, **kwargs)

    def change(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if self._keeps_a_factor(request, without="passkey"):
            try:
                sf.passkey_remove(
                    user=request.user,
                    passkey_id=kwargs["pk"],
                    meta=RequestMeta.from_request(request),
                )
            except Passkey.DoesNotExist as error:
                raise Http404 from error
            messages.success(request, "The passkey was removed.")
        return redirect("accounts:security")


class SecondFactorDisableView(_ReauthRequiredPost):
    def change(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if self._keeps_a_factor(request, without="all"):
            sf.second_factor_disable(user=request.user, meta=RequestMeta.from_request(request))
            messages.success(request, "The second factor is off.")
        return redirect("accounts:security")


class RecoveryCodesRegenerateView(NotWhileActingMixin, LoginRequiredMixin, View):
    acting_refused_what = "change the second factor"
    acting_refused_redirect = "accounts:security"

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            codes = sf.recovery_codes_regenerate(
                user=request.user, meta=RequestMeta.from_request(request)
            )
        except SecondFactorError as error:
            messages.error(request, error.message)
        else:
            request.session[keys.NEW_RECOVERY_CODES] = codes
        return redirect("accounts:security")
