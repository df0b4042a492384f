"""Changing the email address: re-authentication first (the password, and a current code
when enrolled), a link to the new address that must be opened before it replaces the old
one, the old address told, audited; expired, tampered and overtaken links refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.audit import AccountAudit
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.second_factor import totp_code, totp_device
from billing_portal.common.audit import AuditEvent

pytestmark = pytest.mark.django_db

CHANGE = reverse("accounts:email_change")
REAUTH = reverse("accounts:reauth")
NEW = "ada.new@example.org"


def _reauth(client: Client, **extra) -> None:
    response = client.post(REAUTH, {"password": PASSWORD, "next": CHANGE, **extra})
    assert response.status_code == 302, response.content
    assert response.url == CHANGE


def _request(client: Client, capture, new_email: str = NEW):
    with capture(execute=True):
        return client.post(CHANGE, {"new_email": new_email})


def _link(mailoutbox, to: str = NEW) -> str:
    message = next(m for m in mailoutbox if m.to == [to])
    return re.search(r"https?://\S+/accounts/email/confirm/\S+/", message.body).group(0)


@pytest.fixture
def signed_in(client, customer) -> Client:
    client.force_login(customer.user)
    return client


def test_the_change_needs_the_password_first(signed_in, customer):
    response = signed_in.get(CHANGE)
    assert response.status_code == 302
    assert response.url.startswith(REAUTH)
    # without a second factor the password alone confirms it
    page = signed_in.get(response.url).content.decode()
    assert 'name="code"' not in page
    wrong = signed_in.post(REAUTH, {"password": "not-it", "next": CHANGE})
    assert wrong.status_code == 400
    _reauth(signed_in)
    assert signed_in.get(CHANGE).status_code == 200


def test_the_new_address_replaces_the_old_only_once_its_link_is_opened(
    signed_in, customer, mailoutbox, django_capture_on_commit_callbacks
):
    old = customer.user.email
    _reauth(signed_in)
    response = _request(signed_in, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    customer.user.refresh_from_db()
    assert customer.user.email == old  # not yet
    assert sorted(m.to[0] for m in mailoutbox) == sorted([old, NEW])
    notice = next(m for m in mailoutbox if m.to == [old])
    assert NEW in notice.body
    assert "only when a link" in notice.body
    requested = AuditEvent.objects.get(action=AccountAudit.EMAIL_CHANGE_REQUESTED)
    assert requested.details == {"from": old, "to": NEW}
    assert requested.customer == customer

    link = _link(mailoutbox)
    mailoutbox.clear()
    page = signed_in.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200
    assert NEW in page.content.decode()
    customer.user.refresh_from_db()
    assert customer.user.email == old

    with django_capture_on_commit_callbacks(execute=True):
        done = signed_in.post(link)
    assert done.status_code == 302
    customer.user.refresh_from_db()
    assert customer.user.email == NEW
    assert customer.user.is_email_verified
    assert [m.to for m in mailoutbox] == [[old]]  # the old address is told
    assert "was changed to" in mailoutbox[0].body
    changed = AuditEvent.objects.get(action=AccountAudit.EMAIL_CHANGED)
    assert changed.details == {"from": old, "to": NEW}
    # the same link again: done already, nothing more happens
    assert signed_in.post(link).status_code == 302
    assert AuditEvent.objects.filter(action=AccountAudit.EMAIL_CHANGED).count() == 1
    # and the new address is the one to log in with
    fresh = Client()
    assert (
        fresh.post(reverse("accounts:login"), {"username": old, "password": PASSWORD}).status_code
        == 200
    )
    login = fresh.post(reverse("accounts:login"), {"username": NEW, "password": PASSWORD})
    assert login.status_code == 302


def test_with_a_second_factor_a_current_code_is_needed_too(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    device = totp_device(customer.user)
    client.post(reverse("accounts:login"), {"username": customer.user.email, "password": PASSWORD})
    client.post(reverse("accounts:login_code"), {"code": totp_code(device)})
    device.last_t = -1  # the login used this step's code
    device.save()
    refused = client.post(REAUTH, {"password": PASSWORD, "code": "000000", "next": CHANGE})
    assert refused.status_code == 400
    assert client.get(CHANGE).url.startswith(REAUTH)
    no_code = client.post(REAUTH, {"password": PASSWORD, "next": CHANGE})
    assert no_code.status_code == 400
    _reauth(client, code=totp_code(device))
    assert _request(client, django_capture_on_commit_callbacks).status_code == 302
    assert _link(mailoutbox)


def test_a_stale_confirmation_is_asked_again(signed_in, settings):
    _reauth(signed_in)
    settings.SECOND_FACTOR_REAUTH_SECONDS = -1
    response = signed_in.post(CHANGE, {"new_email": NEW})
    assert response.url.startswith(REAUTH)
    assert not AuditEvent.objects.filter(action=AccountAudit.EMAIL_CHANGE_REQUESTED).exists()


@pytest.mark.parametrize(
    ("new_email", "error"),
    [
        ("taken@example.com", "Another account already uses this email address."),
        ("not-an-address", "Enter a valid email address."),
    ],
)
def test_a_taken_or_invalid_address_is_refused(
    signed_in, mailoutbox, django_capture_on_commit_callbacks, new_email, error
):
    UserFactory(email="taken@example.com")
    _reauth(signed_in)
    response = _request(signed_in, django_capture_on_commit_callbacks, new_email)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert mailoutbox == []


def test_the_same_address_is_refused(signed_in, customer, django_capture_on_commit_callbacks):
    _reauth(signed_in)
    response = _request(signed_in, django_capture_on_commit_callbacks, customer.user.email.upper())
    assert response.status_code == 400
    assert "already your email address" in response.content.decode()


def test_an_expired_link_is_refused(
    signed_in, customer, mailoutbox, settings, django_capture_on_commit_callbacks
):
    _reauth(signed_in)
    _request(signed_in, django_capture_on_commit_callbacks)
    link = _link(mailoutbox)
    later = timezone.now() + timedelta(seconds=settings.EMAIL_CHANGE_LINK_SECONDS + 60)
    with time_machine.travel(later):
        assert Client().get(link).status_code == 400
        assert Client().post(link).status_code == 400
    customer.user.refresh_from_db()
    assert customer.user.email != NEW


def test_a_tampered_link_is_refused(
    signed_in, customer, mailoutbox, django_capture_on_commit_callbacks
):
    _reauth(signed_in)
    _request(signed_in, django_capture_on_commit_callbacks)
    link = _link(mailoutbox)
    tampered = link.replace(link.rstrip("/").rsplit(":", 1)[1], "AAAAAAAAAAAAAAAAAAAAAAAAAAA")
    response = Client().post(tampered)
    assert response.status_code == 400
    assert "invalid or has expired" in response.content.decode()
    customer.user.refresh_from_db()
    assert customer.user.email != NEW


def test_a_link_overtaken_by_a_later_change_is_refused(
    signed_in, customer, mailoutbox, django_capture_on_commit_callbacks
):
    _reauth(signed_in)
    _request(signed_in, django_capture_on_commit_callbacks)
    first = _link(mailoutbox)
    _request(signed_in, django_capture_on_commit_callbacks, "second@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(_link(mailoutbox, "second@example.org"))
    assert Client().post(first).status_code == 400
    customer.user.refresh_from_db()
    assert customer.user.email == "second@example.org"


def test_an_address_taken_before_the_link_is_opened_is_refused(
    signed_in, customer, mailoutbox, django_capture_on_commit_callbacks
):
    _reauth(signed_in)
    _request(signed_in, django_capture_on_commit_callbacks)
    UserFactory(email=NEW)
    response = Client().post(_link(mailoutbox))
    assert response.status_code == 400
    assert "Another account" in response.content.decode()
    customer.user.refresh_from_db()
    assert customer.user.email != NEW
