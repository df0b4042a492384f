"""The second factor in Chromium: passkeys through the DevTools virtual authenticator (enrol,
then sign in with one after the password and on its own), TOTP enrolment from the page's
secret, and screenshots of the enrolment and code pages at 1280 and 375 px."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Passkey
from accounts.tests.factories import PASSWORD
from accounts.tests.second_factor import browser_staff_log_in, totp_code
from billing_portal.common.browser import browser_enter_code, browser_log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.real_second_factor,
]

SHOTS = Path("/work/wt/notes/shots")
PHONE = {"width": 375, "height": 740}


def _virtual_authenticator(page) -> None:
    """A platform authenticator that holds discoverable credentials and verifies the user
    (as a fingerprint reader would), attached to this page."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )


def _shots(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"otp-{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"otp-{name}-375.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert overflow <= 0, f"{name} is wider than a phone screen"


def _sign_out(page, base_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base_url}/accounts/login/")


def test_passkeys_enrol_then_sign_in_after_the_password_and_on_their_own(
    page, live_server, customer
):
    base = live_server.url
    _virtual_authenticator(page)
    browser_log_in(page, base, email=customer.user.email, password=PASSWORD)

    # enrol a named passkey on the security page
    page.goto(f"{base}/accounts/security/")
    page.locator("#id_name").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("The passkey “Work laptop” was added.").wait_for()
    assert page.get_by_test_id("passkeys").inner_text().startswith("Work laptop")
    assert len(page.get_by_test_id("recovery-codes").locator("li").all()) == 10
    assert Passkey.objects.filter(user=customer.user).count() == 1

    # the password now leads to the second-factor prompt, which takes the passkey
    _sign_out(page, base)
    page.locator("#id_username").fill(customer.user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/accounts/login/code/")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{base}/")

    # and the passkey alone signs in, from the login page
    _sign_out(page, base)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(f"{base}/")
    passkey = Passkey.objects.get(user=customer.user)
    assert passkey.last_used_at is not None


def test_totp_enrolment_and_the_code_prompt_in_the_browser(page, live_server, customer):
    base = live_server.url
    browser_log_in(page, base, email=customer.user.email, password=PASSWORD)
    page.goto(f"{base}/accounts/security/totp/")
    page.get_by_test_id("totp-qr").locator("svg").wait_for()
    _shots(page, "totp-enrolment")

    # the app is set up from the key as typed text, confirmed by its first code
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.locator("#id_code").fill(f"{TOTP(key).token():06d}")
    page.get_by_role("button", name="Confirm and turn on").click()
    page.get_by_text("Your authenticator app is set up.").wait_for()
    _shots(page, "security-recovery-codes")
    assert TOTPDevice.objects.get(user=customer.user).confirmed

    # the code prompt after the password
    device = TOTPDevice.objects.get(user=customer.user)
    device.last_t = -1  # the enrolment used this step's code
    device.save()
    _sign_out(page, base)
    page.locator("#id_username").fill(customer.user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/accounts/login/code/")
    _shots(page, "code-prompt")
    browser_enter_code(page, totp_code(device))
    page.wait_for_url(f"{base}/")


def test_staff_log_in_to_the_admin_with_a_code(page, live_server):
    from accounts.tests.factories import UserFactory

    staff = UserFactory(is_staff=True, is_superuser=True)
    browser_staff_log_in(page, live_server.url, staff)
    page.get_by_role("link", name="Users").first.wait_for()
