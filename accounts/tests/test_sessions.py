"""Signed-in sessions: the list (device, IP, last seen), ending one or all others (that
browser is signed out), password changes ending the others, the idle timeout and absolute
lifetime (staff shorter), the staff's own admin page, and the housekeeping of the rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import user_sessions
from accounts.audit import AccountAudit
from accounts.models import UserSession
from accounts.tests.factories import PASSWORD, CustomerFactory, UserFactory
from accounts.tests.helpers import assert_customer_isolation, password_reset_through_the_email
from accounts.user_sessions import device_from_user_agent
from billing_portal.common.audit import AuditEvent

pytestmark = pytest.mark.django_db

SECURITY = reverse("accounts:security")
LOGIN = reverse("accounts:login")
DASHBOARD = reverse("dashboard")
END_OTHERS = reverse("accounts:sessions_end_others")
STAFF_PAGE = reverse("staff-sessions")
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def _browser(user, *, agent: str = FIREFOX, ip: str = "198.51.100.7") -> Client:
    """A browser that logged in through the login form (so it gets its session row)."""
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    assert client.get(DASHBOARD).status_code == 200
    return client


def _signed_in(client: Client) -> bool:
    return client.get(DASHBOARD).status_code == 200


def _row(client: Client) -> UserSession:
    return UserSession.objects.get(session_key=client.session.session_key)


# --- The device -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (FIREFOX, "Firefox 128 on Ubuntu"),
        (IPHONE, "Mobile Safari 17 on iOS 17 (iPhone)"),
        ("", ""),
        ("curl/8.5.0", "curl 8"),
        ("\x00\x01 nonsense", ""),
    ],
)
def test_the_device_is_read_from_the_user_agent(agent, device):
    assert device_from_user_agent(agent) == device


# --- The list ---------------------------------------------------------------------------


def test_a_login_is_listed_with_its_device_address_and_last_seen(customer):
    laptop = _browser(customer.user, ip="198.51.100.7")
    _browser(customer.user, agent=IPHONE, ip="203.0.113.9")
    page = laptop.get(SECURITY).content.decode()
    assert page.count('data-testid="session"') == 2
    assert "Firefox 128 on Ubuntu" in page
    assert "This session" in page
    assert "Mobile Safari 17 on iOS 17 (iPhone)" in page
    assert "203.0.113.9" in page
    row = _row(laptop)
    assert (row.user, row.ip_address, row.user_agent) == (customer.user, "198.51.100.7", FIREFOX)
    assert row.last_seen_at > timezone.now() - timedelta(minutes=1)


def test_another_customers_sessions_are_not_listed(customer, other_customer):
    _browser(other_customer.user, agent=IPHONE)
    page = _browser(customer.user).get(SECURITY).content.decode()
    assert page.count('data-testid="session"') == 1
    assert "iPhone" not in page


def test_the_last_seen_time_is_written_at_most_once_a_minute(customer):
    client = _browser(customer.user)
    first = _row(client).last_seen_at
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        client.get(DASHBOARD)
        assert _row(client).last_seen_at == first
    with time_machine.travel(timezone.now() + timedelta(seconds=90)):
        client.get(DASHBOARD)
        assert _row(client).last_seen_at > first


# --- Ending sessions --------------------------------------------------------------------


def test_ending_another_session_signs_that_browser_out(
    customer, django_capture_on_commit_callbacks
):
    laptop, phone = _browser(customer.user), _browser(customer.user, agent=IPHONE)
    phone_row = _row(phone)
    response = laptop.post(reverse("accounts:session_end", args=[phone_row.pk]))
    assert response.status_code == 302
    assert not _signed_in(phone)
    assert _signed_in(laptop)
    assert not UserSession.objects.filter(pk=phone_row.pk).exists()
    assert not Session.objects.filter(session_key=phone_row.session_key).exists()
    event = AuditEvent.objects.get(action=AccountAudit.SESSION_ENDED)
    assert (event.customer, event.details["reason"], event.details["count"]) == (
        customer,
        "ended",
        1,
    )
    assert event.details["devices"] == ["Mobile Safari 17 on iOS 17 (iPhone)"]


def test_this_session_is_ended_by_logging_out_not_from_the_list(customer):
    client = _browser(customer.user)
    assert client.post(reverse("accounts:session_end", args=[_row(client).pk])).status_code == 404
    assert _signed_in(client)


def test_signing_out_all_others_keeps_this_one(customer):
    laptop = _browser(customer.user)
    others = [_browser(customer.user, agent=IPHONE) for _ in range(2)]
    assert laptop.post(END_OTHERS).status_code == 302
    assert [_signed_in(other) for other in others] == [False, False]
    assert _signed_in(laptop)
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        laptop.session.session_key
    ]
    assert AuditEvent.objects.get(action=AccountAudit.SESSION_ENDED).details["count"] == 2


def test_a_customer_cannot_end_another_customers_session(client, customer, other_customer):
    def victim_session() -> str:
        browser = _browser(customer.user, agent=IPHONE)
        return reverse("accounts:session_end", args=[_row(browser).pk])

    assert_customer_isolation(
        client,
        urls=[victim_session()],
        owner=customer,
        intruder=other_customer,
        method="post",
    )


def test_an_intruder_ending_all_others_ends_only_their_own(client, customer, other_customer):
    victim = _browser(customer.user)
    _browser(other_customer.user)
    intruder = _browser(other_customer.user)
    intruder.post(END_OTHERS)
    assert _signed_in(victim)
    assert UserSession.objects.filter(user=customer.user).count() == 1


def test_ending_a_session_that_is_gone_is_not_found(customer):
    client = _browser(customer.user)
    assert client.post(reverse("accounts:session_end", args=[999999])).status_code == 404


# --- Passwords --------------------------------------------------------------------------


def test_changing_the_password_signs_out_every_other_session(customer):
    laptop, phone = _browser(customer.user), _browser(customer.user, agent=IPHONE)
    new = "a-new-long-passphrase-77"
    response = laptop.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert not _signed_in(phone)
    assert _signed_in(laptop)
    # this session's row followed its rotated key, so it is still listed as this session
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        laptop.session.session_key
    ]
    assert "This session" in laptop.get(SECURITY).content.decode()
    event = AuditEvent.objects.get(action=AccountAudit.SESSION_ENDED)
    assert event.details["reason"] == "password_changed"


def test_a_password_reset_signs_out_every_session(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    signed_in = _browser(customer.user)
    password_reset_through_the_email(
        client,
        email=customer.user.email,
        new_password="a-brand-new-passphrase-8",
        mailoutbox=mailoutbox,
        capture=django_capture_on_commit_callbacks,
    )
    assert not _signed_in(signed_in)
    assert not UserSession.objects.filter(user=customer.user).exists()


# --- Timeouts ---------------------------------------------------------------------------


def test_an_idle_session_ends_and_staff_sooner_than_customers(settings):
    settings.SESSION_IDLE_SECONDS, settings.STAFF_SESSION_IDLE_SECONDS = 3600, 600
    customer_browser = _browser(CustomerFactory().user)
    staff = UserFactory(is_staff=True)
    staff_browser = Client()
    staff_browser.force_login(staff)
    assert staff_browser.get(STAFF_PAGE).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=660)):
        assert _signed_in(customer_browser)
        assert staff_browser.get(STAFF_PAGE).status_code == 302  # to the admin's login
        assert "_auth_user_id" not in staff_browser.session
    with time_machine.travel(timezone.now() + timedelta(seconds=660 + 3660)):
        assert not _signed_in(customer_browser)


def test_staff_acting_as_a_customer_keep_the_staff_timeout(settings, customer):
    settings.SESSION_IDLE_SECONDS, settings.STAFF_SESSION_IDLE_SECONDS = 3600, 600
    client = _browser(customer.user)
    session = client.session
    session["hijack_history"] = ["1"]  # django-hijack's record of who is acting
    session.save()
    with time_machine.travel(timezone.now() + timedelta(seconds=90)):
        assert _signed_in(client)  # the clock is written with the staff timeout
    with time_machine.travel(timezone.now() + timedelta(seconds=90 + 660)):
        assert not _signed_in(client)


def test_a_session_in_use_ends_at_its_lifetime(settings, customer):
    settings.SESSION_IDLE_SECONDS, settings.SESSION_LIFETIME_SECONDS = 600, 1800
    client = _browser(customer.user)
    start = timezone.now()
    for minutes in (8, 16, 24):  # used every 8 minutes: never idle
        with time_machine.travel(start + timedelta(minutes=minutes)):
            assert _signed_in(client), minutes
    with time_machine.travel(start + timedelta(minutes=31)):
        assert not _signed_in(client)


def test_the_stored_expiry_is_the_idle_timeout_cut_at_the_lifetime(settings, customer):
    settings.SESSION_IDLE_SECONDS, settings.SESSION_LIFETIME_SECONDS = 600, 900
    client = _browser(customer.user)
    session = Session.objects.get(session_key=client.session.session_key)
    left = (session.expire_date - timezone.now()).total_seconds()
    assert 590 < left <= 600
    with time_machine.travel(timezone.now() + timedelta(seconds=420)):
        client.get(DASHBOARD)
        session = Session.objects.get(session_key=client.session.session_key)
        left = (session.expire_date - timezone.now()).total_seconds()
        assert 470 < left <= 480  # the 900 s lifetime, not another 600 s


def test_timeouts_must_be_sensible():
    import subprocess
    import sys

    env = {"SESSION_IDLE_SECONDS": "7200", "SESSION_LIFETIME_SECONDS": "3600"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **__import__("os").environ,
            **env,
            "DJANGO_SETTINGS_MODULE": "billing_portal.settings",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SESSION_IDLE_SECONDS must be at least 60 and at most" in result.stderr


# --- Staff ------------------------------------------------------------------------------


def test_staff_see_and_end_only_their_own_sessions_in_the_admin(admin_client, admin_user):
    other_staff = UserFactory(is_staff=True, is_superuser=True)
    theirs = Client(HTTP_USER_AGENT=IPHONE)
    theirs.force_login(other_staff)
    theirs.get(STAFF_PAGE)
    mine = Client(HTTP_USER_AGENT=IPHONE)
    mine.force_login(admin_user)
    mine.get(STAFF_PAGE)
    page = admin_client.get(STAFF_PAGE)
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="session"') == 2  # this one and `mine`
    mine_row = _row(mine)
    theirs_row = _row(theirs)
    end = reverse("accounts:session_end", args=[theirs_row.pk])
    assert admin_client.post(end, {"next": STAFF_PAGE}).status_code == 404
    response = admin_client.post(
        reverse("accounts:session_end", args=[mine_row.pk]), {"next": STAFF_PAGE}
    )
    assert response.url == STAFF_PAGE
    assert mine.get(STAFF_PAGE).status_code == 302
    assert theirs.get(STAFF_PAGE).status_code == 200


def test_the_staff_page_is_for_staff_only(client, customer):
    assert client.get(STAFF_PAGE).url.startswith("/admin/login/")
    client.force_login(customer.user)
    assert client.get(STAFF_PAGE).url.startswith("/admin/login/")


def test_every_admin_page_links_to_my_sessions(admin_client):
    assert STAFF_PAGE in admin_client.get(reverse("admin:index")).content.decode()


# --- Housekeeping -----------------------------------------------------------------------


def test_housekeeping_clears_expired_sessions_and_their_rows(customer):
    live, ended_elsewhere = _browser(customer.user), _browser(customer.user)
    ended_key = ended_elsewhere.session.session_key
    Session.objects.filter(session_key=ended_key).delete()  # e.g. a logout
    UserSession.objects.create(
        user=customer.user,
        session_key="x" * 32,
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    Session.objects.create(
        session_key="y" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1)
    )
    assert user_sessions.sessions_clear_expired() == 1
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        live.session.session_key
    ]
    assert _signed_in(live)
