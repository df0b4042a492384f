"""Test helpers for the second factor: TOTP devices with known keys, their current codes,
and sessions marked verified (the root conftest uses `verify_session` for staff logins)."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.session_keys import HAS_FACTOR

# A fixed key (hex, 20 bytes) for browser tests that type a code into the login form.
KNOWN_KEY = "3132333435363738393031323334353637383930"


def totp_device(user: User, *, key: str = KNOWN_KEY) -> TOTPDevice:
    """A confirmed TOTP device of `user` with `key`."""
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name="Test app", key=key, confirmed=True
    )
    return device


def totp_code(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    """The device's code now (or `offset_steps` steps away), as the app would show it."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def verify_session(client: Client, user: User) -> None:
    """Mark the client's session as verified by a second factor of `user` (one is created if
    the user has none), as if they had entered a code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or totp_device(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[HAS_FACTOR] = True
    session.save()
    if settings.SESSION_COOKIE_NAME not in client.cookies:  # pragma: no cover
        raise AssertionError("force_login did not set the session cookie")


def staff_browser_log_in(page, base_url: str, staff: User, *, password: str) -> None:
    """Log `staff` in to the admin in a browser, typing the code of a new TOTP device."""
    from billing_portal.common.browser import browser_log_in

    device = totp_device(staff)  # staff need a second factor: the prompt follows the password
    browser_log_in(
        page,
        base_url,
        email=staff.email,
        password=password,
        code=lambda: totp_code(device),
        path="/admin/login/",
        lands_on="/admin/",
    )
