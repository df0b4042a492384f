"""Auth signal receivers that write audit events.

Signals are used here, and only here, because Django's auth and axes expose login, logout,
failed and locked-out logins no other way, and they cover the client-area login and the
admin login alike. Receivers only translate the signal into one service call.
"""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from accounts import services
from accounts.second_factor import user_has_second_factor
from accounts.session_keys import HAS_FACTOR
from billing_portal.common.request import RequestMeta


def _on_login(sender, request, user, **kwargs) -> None:
    services.login_record(user=user, meta=RequestMeta.from_request(request))
    if request is not None and hasattr(request, "session"):
        # The second-factor gate reads this on every request instead of asking the database.
        request.session[HAS_FACTOR] = user_has_second_factor(user=user)


def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        services.logout_record(user=user, meta=RequestMeta.from_request(request))


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
