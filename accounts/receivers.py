"""Auth signal receivers that write audit events.

Signals are used here, and only here, because Django's auth and axes expose login, logout,
failed and locked-out logins no other way, and they cover the client-area login and the
admin login alike. Receivers only translate the signal into one service call.
"""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from accounts import acting, services
from accounts.models import User
from accounts.second_factor import user_has_second_factor
from accounts.session_keys import HAS_FACTOR
from billing_portal.common.request import RequestMeta


def _on_login(sender, request, user, **kwargs) -> None:
    # Starting or stopping acting as a customer logs the session in too; those are audited
    # as what they are (accounts/acting_views.py), not as the user's login.
    if not acting.is_switching(request):
        services.login_record(user=user, meta=RequestMeta.from_request(request))
    if request is not None and hasattr(request, "session"):
        # The second-factor gate reads this on every request instead of asking the database.
        request.session[HAS_FACTOR] = user_has_second_factor(user=user)


def _on_logout(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    meta = RequestMeta.from_request(request)
    staff_id = acting.acting_staff_id(request) if request is not None else None
    staff = User.objects.filter(pk=staff_id).first() if staff_id else None
    if staff is not None:  # staff acting as the customer logged out: that ends the acting
        services.acting_record(staff=staff, user=user, started=False, meta=meta)
    else:
        services.logout_record(user=user, meta=meta)


def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Axes sends its own lockout signal for refused attempts; record that one instead.
    if request is not None and getattr(request, "axes_locked_out", False):
        return
    services.login_failure_record(
        username=credentials.get("username"),
        meta=RequestMeta.from_request(request),
        locked_out=False,
    )


def _on_locked_out(sender, request, username=None, ip_address=None, **kwargs) -> None:
    services.login_failure_record(
        username=username, meta=RequestMeta.from_request(request), locked_out=True
    )


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="accounts.audit.login")
    user_logged_out.connect(_on_logout, dispatch_uid="accounts.audit.logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="accounts.audit.login_failed")
    user_locked_out.connect(_on_locked_out, dispatch_uid="accounts.audit.locked_out")
