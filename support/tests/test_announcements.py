"""Announcements: customers see the published ones (never drafts nor scheduled ones) on the
dashboard (the latest few) and on the list page (paginated, with an empty state); with an
email, a published announcement is mailed once, in batches, to every customer (an essential
notice) or to those who did not unsubscribe, with an audit event; the emails' unsubscribe
link changes nothing on GET and refuses a forged token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, UserFactory
from billing_portal.common.audit import AuditEvent
from support import services
from support.models import Announcement, AnnouncementOptOut
from support.tasks import announcement_email_task, announcements_sweep_task

pytestmark = pytest.mark.django_db


def announcement(title: str = "Network maintenance", **fields) -> Announcement:
    values = {"body": "On **Sunday** from 02:00 UTC.", "publish_at": timezone.now(), **fields}
    return Announcement.objects.create(title=title, **values)


def _actions(item: Announcement) -> list[str]:
    events = AuditEvent.objects.filter(object_type="support.announcement", object_id=str(item.pk))
    return list(events.order_by("id").values_list("action", flat=True))


# --- shown to customers ----------------------------------------------------------------------


def test_the_list_shows_published_announcements_only(customer, client):
    client.force_login(customer.user)
    assert (
        "No announcements yet" in client.get(reverse("support:announcement_list")).content.decode()
    )
    shown = announcement(body="Read <script>alert(1)</script> **this**.")
    announcement("Draft news", is_draft=True)
    announcement("Next month", publish_at=timezone.now() + timedelta(days=30))
    page = client.get(reverse("support:announcement_list")).content.decode()
    assert shown.title in page
    assert "<strong>this</strong>" in page
    assert "<script>alert(1)" not in page
    assert "Draft news" not in page
    assert "Next month" not in page


def test_a_scheduled_announcement_appears_at_its_date(customer, client):
    client.force_login(customer.user)
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        announcement("Price change", publish_at=start + timedelta(days=2))
        assert "Price change" not in client.get(reverse("dashboard")).content.decode()
        clock.shift(timedelta(days=2))
        assert "Price change" in client.get(reverse("dashboard")).content.decode()


def test_the_dashboard_shows_the_latest_three(customer, client):
    client.force_login(customer.user)
    assert "dashboard-announcements" not in client.get(reverse("dashboard")).content.decode()
    now = timezone.now()
    for n in range(5):
        announcement(f"News {n}", publish_at=now - timedelta(days=5 - n))
    page = client.get(reverse("dashboard")).content.decode()
    assert [f"News {n}" in page for n in range(5)] == [False, False, True, True, True]
    assert page.index("News 4") < page.index("News 2")  # newest first


def test_the_list_is_paginated_with_constant_queries(customer, client):
    client.force_login(customer.user)
    announcement("First")
    url = reverse("support:announcement_list")
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for n in range(14):
        announcement(f"News {n}")
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert len(many) == len(one)
    assert "Page 1 of 2" in page
    assert client.get(url, {"page": "2"}).status_code == 200
    assert client.get(url, {"page": "9"}).status_code == 404


def test_the_list_needs_a_customer(client):
    response = client.get(reverse("support:announcement_list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


# --- emails --------------------------------------------------------------------------------


def _send(capture, item: Announcement) -> None:
    with capture(execute=True):
        announcement_email_task.delay(item.pk)


def test_an_announcement_is_emailed_once_in_batches(
    monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "ANNOUNCEMENT_BATCH", 2)
    customers = [CustomerFactory() for _ in range(5)]
    gone = CustomerFactory()
    gone.user.is_active = False
    gone.user.save()
    item = announcement(email_customers=True)

    _send(django_capture_on_commit_callbacks, item)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(c.user.email for c in customers)
    item.refresh_from_db()
    assert item.emailed_at is not None
    assert item.emailed_count == 5
    assert _actions(item) == ["announcement.email_started", "announcement.emailed"]
    message = mailoutbox[0]
    assert message.subject == "Network maintenance"
    assert "On **Sunday** from 02:00 UTC." in message.body
    assert "/support/announcements/unsubscribe/" in message.body
    assert "<strong>Sunday</strong>" in message.alternatives[0][0]

    # again (a retry, the sweep): nobody is mailed twice
    mailoutbox.clear()
    _send(django_capture_on_commit_callbacks, item)
    with django_capture_on_commit_callbacks(execute=True):
        assert announcements_sweep_task.delay().get() == 0
    assert mailoutbox == []
    assert len(_actions(item)) == 2


def test_a_batch_retried_after_it_committed_mails_only_the_rest(
    monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "ANNOUNCEMENT_BATCH", 2)
    for _ in range(3):
        CustomerFactory()
    item = announcement(email_customers=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.announcement_email_batch(announcement_id=item.pk) is True
        assert services.announcement_email_batch(announcement_id=item.pk) is False
        assert services.announcement_email_batch(announcement_id=item.pk) is False
    assert len(mailoutbox) == 3
    assert len({m.to[0] for m in mailoutbox}) == 3


def test_news_skip_unsubscribed_customers_and_essential_notices_do_not(
    mailoutbox, django_capture_on_commit_callbacks
):
    stays, leaves = CustomerFactory(), CustomerFactory()
    services.announcement_subscription_set(customer=leaves, subscribed=False)
    news = announcement("New data centre", email_customers=True)
    notice = announcement("Emergency maintenance", email_customers=True, essential=True)
    _send(django_capture_on_commit_callbacks, news)
    assert [m.to for m in mailoutbox] == [[stays.user.email]]
    mailoutbox.clear()
    _send(django_capture_on_commit_callbacks, notice)
    assert sorted(m.to[0] for m in mailoutbox) == sorted([stays.user.email, leaves.user.email])
    assert all("/unsubscribe/" not in m.body for m in mailoutbox)
    assert all("service notice" in m.body for m in mailoutbox)


def test_drafts_scheduled_and_emailless_announcements_are_not_mailed(
    mailoutbox, django_capture_on_commit_callbacks
):
    CustomerFactory()
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        later = announcement("Later", email_customers=True, publish_at=start + timedelta(hours=1))
        announcement("Draft", email_customers=True, is_draft=True)
        announcement("No email")
        with django_capture_on_commit_callbacks(execute=True):
            assert announcements_sweep_task.delay().get() == 0
            assert services.announcement_email_batch(announcement_id=later.pk) is False
        assert mailoutbox == []
        clock.shift(timedelta(hours=1))  # its date comes: the sweep mails it
        with django_capture_on_commit_callbacks(execute=True):
            assert announcements_sweep_task.delay().get() == 1
        assert [m.subject for m in mailoutbox] == ["Later"]


def test_staff_publishing_now_with_email_queue_it_at_once(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:support_announcement_add"),
            {
                "title": "New control panel",
                "body": "It is *faster*.",
                "publish_at_0": now.strftime("%Y-%m-%d"),
                "publish_at_1": (now - timedelta(minutes=1)).strftime("%H:%M:%S"),
                "email_customers": "on",
            },
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert [m.to for m in mailoutbox] == [[customer.user.email]]
    item = Announcement.objects.get(title="New control panel")
    # once its email started, whom it goes to is fixed
    page = client.get(reverse("admin:support_announcement_change", args=[item.pk]))
    assert 'name="essential"' not in page.content.decode()


# --- unsubscribing ------------------------------------------------------------------------


def test_the_unsubscribe_link_needs_a_post_and_a_genuine_token(customer, client):
    token = services.announcement_unsubscribe_token(customer.pk)
    url = reverse("support:announcement_unsubscribe", args=[token])
    page = client.get(url)  # signed out, as from the email; a mail scanner's GET
    assert page.status_code == 200
    assert "Unsubscribe from announcements" in page.content.decode()
    assert not AnnouncementOptOut.objects.exists()
    client.post(url)
    assert AnnouncementOptOut.objects.filter(customer=customer).exists()
    assert "Email me announcements again" in client.get(url).content.decode()
    client.post(url)  # twice: still one opt-out, one audit event
    events = AuditEvent.objects.filter(customer=customer, action="announcement.unsubscribed")
    assert events.count() == 1
    client.post(url, {"subscribe": "1"})
    assert not AnnouncementOptOut.objects.exists()

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "x", services.announcement_unsubscribe_token(999_999)):
        bad_url = reverse("support:announcement_unsubscribe", args=[bad])
        assert client.get(bad_url).status_code == 404
        assert client.post(bad_url).status_code == 404


def test_the_list_page_links_to_the_customers_own_choice(customer, client):
    client.force_login(customer.user)
    page = client.get(reverse("support:announcement_list")).content.decode()
    token = services.announcement_unsubscribe_token(customer.pk)
    assert reverse("support:announcement_unsubscribe", args=[token]) in page
    assert "Stop announcement emails" in page
