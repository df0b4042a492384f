"""The second factor: TOTP enrolment and login, replay, lockout, recovery codes, the staff
gate on every admin page, password reset, re-authentication and passkey isolation.

Every test here opts out of the conftest's automatic verification of staff sessions."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import second_factor
from accounts.audit import AccountAudit
from accounts.models import Passkey
from accounts.session_keys import TOTP_SETUP
from accounts.tests.factories import PASSWORD, CustomerFactory, UserFactory
from accounts.tests.helpers import password_reset_through_the_email
from accounts.tests.second_factor import totp_code, totp_device
from billing_portal.common.audit import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.real_second_factor]

LOGIN = reverse("accounts:login")
CODE = reverse("accounts:login_code")
SECURITY = reverse("accounts:security")
ENROL = reverse("accounts:totp_enrol")
REAUTH = reverse("accounts:reauth")
IP = "198.51.100.20"


def _password(client: Client, email: str, url: str = LOGIN, **extra):
    return client.post(url, {"username": email, "password": PASSWORD, **extra}, REMOTE_ADDR=IP)


def _code(client: Client, code: str, **extra):
    return client.post(CODE, {"code": code, **extra}, REMOTE_ADDR=IP)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _verified(client: Client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


def _setup_code(client: Client, user, *, offset_steps: int = 0) -> str:
    """The code an app set up from the enrolment page's key shows now."""
    device = second_factor.totp_setup_device(user=user, key=client.session[TOTP_SETUP])
    return totp_code(device, offset_steps=offset_steps)


# --- Enrolment ----------------------------------------------------------------------------


def test_a_customer_enrols_totp_with_a_first_code_and_gets_ten_recovery_codes_once(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(customer.user)
    page = client.get(ENROL)
    assert page.status_code == 200
    assert b"<svg" in page.content
    assert not TOTPDevice.objects.filter(user=customer.user).exists()  # none until confirmed
    secret = page.context["secret"].replace(" ", "")
    assert secret
    assert secret in page.content.decode().replace(" ", "")

    wrong = _setup_code(client, customer.user, offset_steps=10)
    assert client.post(ENROL, {"code": wrong}).status_code == 400
    assert not TOTPDevice.objects.filter(user=customer.user).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ENROL, {"code": _setup_code(client, customer.user)})
    assert response.status_code == 302
    assert response.url == SECURITY
    assert TOTPDevice.objects.get(user=customer.user).confirmed
    assert _verified(client)

    shown = client.get(SECURITY)
    codes = shown.context["new_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert StaticToken.objects.filter(device__user=customer.user).count() == 10
    assert client.get(SECURITY).context["new_codes"] is None  # shown once
    actions = set(AuditEvent.objects.filter(customer=customer).values_list("action", flat=True))
    assert {AccountAudit.SECOND_FACTOR_ENABLED, AccountAudit.RECOVERY_CODES_GENERATED} <= actions
    assert [m.to for m in mailoutbox] == [[customer.user.email]]
    assert "Security change" in mailoutbox[0].subject


def test_a_wrong_first_code_leaves_the_factor_off(client, customer):
    client.force_login(customer.user)
    client.get(ENROL)
    wrong = _setup_code(client, customer.user, offset_steps=10)
    response = client.post(ENROL, {"code": wrong})
    assert response.status_code == 400
    assert "not correct" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=customer.user).exists()
    assert client.post(ENROL, {"code": "\u0661\u0662\u0663\u0664\u0665\u0666"}).status_code == 400


# --- Login --------------------------------------------------------------------------------


def test_login_asks_for_the_code_after_the_password_and_refuses_a_replay(customer):
    device = totp_device(customer.user)
    first = Client()
    response = _password(first, customer.user.email)
    assert response.status_code == 302
    assert response.url == CODE
    assert not _logged_in(first)  # the password alone signs nobody in
    assert first.get(reverse("dashboard")).status_code == 302

    code = totp_code(device)
    response = _code(first, code)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert _logged_in(first)
    assert _verified(first)
    assert first.get(reverse("dashboard")).status_code == 200

    second = Client()
    _password(second, customer.user.email)
    response = _code(second, code)  # the same code again
    assert response.status_code == 400
    assert "used already" in response.content.decode()
    assert not _logged_in(second)


def test_wrong_codes_count_toward_the_lockout(client, customer, settings):
    device = totp_device(customer.user)
    _password(client, customer.user.email)
    wrong = totp_code(device, offset_steps=20)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _code(client, wrong).status_code == 400
    assert _code(client, wrong).status_code == 429
    # locked: neither the right code now nor the password again gets in
    assert _code(client, totp_code(device)).status_code in (302, 429)
    assert not _logged_in(client)
    assert _password(client, customer.user.email).status_code == 429
    failed = AuditEvent.objects.filter(customer=customer, action=AccountAudit.LOGIN_FAILED)
    assert failed.count() == settings.AXES_FAILURE_LIMIT - 1
    assert AuditEvent.objects.filter(action=AccountAudit.LOGIN_LOCKED_OUT).exists()


def test_a_recovery_code_works_once(customer):
    totp_device(customer.user)
    static = StaticDevice.objects.create(user=customer.user, name="Recovery codes")
    static.token_set.create(token="abcdefgh23")
    first = Client()
    _password(first, customer.user.email)
    assert _code(first, "ABCD EFGH 23").status_code == 302
    assert _logged_in(first)
    assert AuditEvent.objects.filter(action=AccountAudit.RECOVERY_CODE_USED).count() == 1

    second = Client()
    _password(second, customer.user.email)
    assert _code(second, "abcdefgh23").status_code == 400
    assert not _logged_in(second)


def test_an_expired_password_step_starts_again(client, customer, settings):
    device = totp_device(customer.user)
    _password(client, customer.user.email)
    settings.SECOND_FACTOR_PENDING_SECONDS = -1
    response = _code(client, totp_code(device))
    assert response.status_code == 302
    assert response.url == LOGIN
    assert not _logged_in(client)


def test_the_code_page_without_a_password_step_goes_to_login(client, db):
    assert client.get(CODE).url == LOGIN
    assert client.post(CODE, {"code": "123456"}).url == LOGIN


def test_customers_without_a_factor_log_in_with_the_password_alone(client, customer):
    response = _password(client, customer.user.email)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_setting_requires_a_factor_of_customers_too(client, customer, settings):
    settings.OTP_REQUIRED_FOR_CUSTOMERS = True
    _password(client, customer.user.email)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(SECURITY)
    assert client.get(SECURITY).status_code == 200
    assert client.get(ENROL).status_code == 200


def test_password_reset_then_login_still_asks_for_the_second_factor(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    device = totp_device(customer.user)
    new_password = "a-brand-new-passphrase-8"
    done = password_reset_through_the_email(
        client,
        email=customer.user.email,
        new_password=new_password,
        mailoutbox=mailoutbox,
        capture=django_capture_on_commit_callbacks,
    )
    assert done.status_code == 302
    assert not _logged_in(client)  # a reset never signs in
    response = client.post(LOGIN, {"username": customer.user.email, "password": new_password})
    assert response.url == CODE
    assert not _logged_in(client)
    assert _code(client, totp_code(device)).status_code == 302
    assert _verified(client)


# --- Staff --------------------------------------------------------------------------------


def _admin_paths() -> list[str]:
    """A path for every URL pattern of the admin, its parameters filled with sample values."""
    samples = {"app_label": "accounts", "content_type_id": "1", "object_id": "1"}
    paths: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + _fill(str(pattern.pattern), samples))
            elif isinstance(pattern, URLPattern):
                paths.append(prefix + _fill(str(pattern.pattern), samples))

    walk(admin.site.get_urls(), "/admin/")
    return sorted(set(paths))


def _fill(pattern: str, samples: dict[str, str]) -> str:
    pattern = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: samples.get(m.group(1), "1"), pattern)
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: samples.get(m.group(1), "1"), pattern)
    return pattern.lstrip("^").rstrip("$").replace("\\", "")


def test_staff_without_a_factor_are_sent_to_enrolment_from_every_admin_page(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    paths = _admin_paths()
    assert "/admin/" in paths
    assert len(paths) > 100
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302, f"{path} answered {response.status_code}"
        assert response.url.startswith(SECURITY), f"{path} went to {response.url}"
        assert client.post(path, {}).url.startswith(SECURITY), path
    # the enrolment pages themselves open
    assert client.get(SECURITY).status_code == 200
    assert client.get(ENROL).status_code == 200


def test_staff_with_a_factor_but_an_unverified_session_are_asked_for_the_code(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    device = totp_device(staff)
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith(CODE)
    assert client.get(reverse("admin:accounts_user_changelist")).url.startswith(CODE)
    assert _code(client, totp_code(device), next="/admin/").url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_asks_for_the_code_too(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    device = totp_device(staff)
    page = client.get(reverse("admin:login"))
    assert page.status_code == 200
    response = _password(client, staff.email, url=reverse("admin:login"))
    assert response.status_code == 302
    assert response.url == CODE
    assert not _logged_in(client)
    assert _code(client, totp_code(device)).url == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_new_staff_user_logging_in_is_sent_to_enrolment(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    response = _password(client, staff.email, url=reverse("admin:login"))
    assert response.url == reverse("admin:index")
    response = client.get(reverse("admin:index"))
    assert response.url.startswith(SECURITY)
    client.get(ENROL)
    assert client.post(ENROL, {"code": _setup_code(client, staff)}).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_cannot_remove_their_last_factor(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    device = totp_device(staff)
    _password(client, staff.email)
    _code(client, totp_code(device))
    device.last_t = -1
    device.save()
    client.post(REAUTH, {"password": PASSWORD, "code": totp_code(device)}, REMOTE_ADDR=IP)
    client.post(reverse("accounts:totp_remove"))
    assert TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    client.post(reverse("accounts:second_factor_disable"))
    assert TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


# --- Re-authentication and removal --------------------------------------------------------


def test_turning_it_off_needs_the_password_and_a_current_code(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    device = totp_device(customer.user)
    _password(client, customer.user.email)
    _code(client, totp_code(device))
    disable = reverse("accounts:second_factor_disable")

    response = client.post(disable)
    assert response.status_code == 302
    assert response.url.startswith(REAUTH)
    assert TOTPDevice.objects.filter(user=customer.user).exists()

    device.last_t = -1  # the login used this step's code; a later step's code would do
    device.save()
    wrong = client.post(REAUTH, {"password": "wrong-password", "code": totp_code(device)})
    assert wrong.status_code == 400
    good = client.post(REAUTH, {"password": PASSWORD, "code": totp_code(device), "next": SECURITY})
    assert good.status_code == 302
    assert good.url == SECURITY
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(disable).status_code == 302
    assert not TOTPDevice.objects.filter(user=customer.user).exists()
    assert not StaticDevice.objects.filter(user=customer.user).exists()
    event = AuditEvent.objects.get(action=AccountAudit.SECOND_FACTOR_REMOVED)
    assert event.customer == customer
    assert event.details["kind"] == "all"
    assert [m.to for m in mailoutbox] == [[customer.user.email]]
    assert "removed" in mailoutbox[0].body
    # and the next login needs the password only
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_stale_reauthentication_is_asked_again(client, customer, settings):
    device = totp_device(customer.user)
    _password(client, customer.user.email)
    _code(client, totp_code(device))
    device.last_t = -1
    device.save()
    client.post(REAUTH, {"password": PASSWORD, "code": totp_code(device)})
    settings.SECOND_FACTOR_REAUTH_SECONDS = -1
    response = client.post(reverse("accounts:totp_remove"))
    assert response.url.startswith(REAUTH)
    assert TOTPDevice.objects.filter(user=customer.user).exists()


def _passkey(user, name="Laptop") -> Passkey:
    return Passkey.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=f"cred-{user.pk}-{name}".encode(),
        public_key=b"not-a-real-key",
    )


def test_a_customer_cannot_remove_another_customers_passkey(client, customer, other_customer):
    theirs = _passkey(other_customer.user)
    client.force_login(customer.user)
    url = reverse("accounts:passkey_remove", args=[theirs.pk])
    assert client.post(url).status_code == 404
    assert client.post(reverse("accounts:passkey_remove", args=[999999])).status_code == 404
    assert Passkey.objects.filter(pk=theirs.pk).exists()


def test_a_customer_removes_one_of_their_passkeys_after_reauthenticating(client, customer):
    device = totp_device(customer.user)
    laptop, phone = _passkey(customer.user, "Laptop"), _passkey(customer.user, "Phone")
    _password(client, customer.user.email)
    _code(client, totp_code(device))
    page = client.get(SECURITY)
    assert [p.name for p in page.context["passkeys"]] == ["Laptop", "Phone"]
    device.last_t = -1
    device.save()
    client.post(REAUTH, {"password": PASSWORD, "code": totp_code(device)})
    assert client.post(reverse("accounts:passkey_remove", args=[laptop.pk])).status_code == 302
    assert list(Passkey.objects.filter(user=customer.user)) == [phone]
    event = AuditEvent.objects.get(action=AccountAudit.SECOND_FACTOR_REMOVED)
    assert event.details == {"kind": "passkey", "name": "Laptop"}


def test_recovery_codes_are_regenerated_and_the_old_ones_stop_working(client, customer):
    device = totp_device(customer.user)
    old = StaticDevice.objects.create(user=customer.user, name="Recovery codes")
    old.token_set.create(token="oldcode234")
    _password(client, customer.user.email)
    _code(client, totp_code(device))
    client.post(reverse("accounts:recovery_codes_regenerate"))
    codes = client.get(SECURITY).context["new_codes"]
    assert len(codes) == 10
    assert not StaticToken.objects.filter(token="oldcode234").exists()
    assert StaticToken.objects.filter(device__user=customer.user).count() == 10


def test_passkey_endpoints_refuse_junk_without_a_server_error(client, customer):
    client.force_login(customer.user)
    register = reverse("accounts:passkey_register")
    assert client.post(register, b"{}", content_type="application/json").status_code == 400
    client.post(reverse("accounts:passkey_register_options"))
    assert client.post(register, b"[1", content_type="application/json").status_code == 400
    client.post(reverse("accounts:passkey_register_options"))
    body = b'{"name": "x", "credential": {"id": "AA", "rawId": "AA", "response": {}}}'
    assert client.post(register, body, content_type="application/json").status_code == 400
    anonymous = Client()
    login = reverse("accounts:login_passkey")
    assert anonymous.post(login, b"{}", content_type="application/json").status_code == 400
    anonymous.post(reverse("accounts:login_passkey_options"))
    for junk in (b"null", b"{}", b'{"rawId": "!!"}', b'{"rawId": "AAAA"}', b"\xff"):
        anonymous.post(reverse("accounts:login_passkey_options"))
        response = anonymous.post(login, junk, content_type="application/json")
        assert response.status_code == 400, junk


def test_the_totp_code_command_prints_the_current_code(customer, settings):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    device = totp_device(customer.user)
    settings.DEBUG = True
    out = StringIO()
    call_command("totp_code", customer.user.email, stdout=out)
    assert out.getvalue().strip() == totp_code(device)
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("totp_code", customer.user.email, stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("totp_code", "nobody@example.com", "--force", stdout=StringIO())


def test_a_customer_account_is_unaffected_for_other_customers(client):
    # a customer with a factor does not change how one without logs in
    totp_device(CustomerFactory().user)
    plain = CustomerFactory()
    assert _password(client, plain.user.email).url == reverse("dashboard")
