"""A customer downloads their data (issue 16, acceptance 3): asked for on "Your data", built
by the `billing.data_export_build` task (through the outbox, eagerly as in every task test),
stored outside the web root, its signed link emailed; only that customer may download it,
one export is in progress at a time, and the daily sweep deletes expired archives."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts import data_rights
from accounts.models import DataExport
from accounts.tests.helpers import assert_customer_isolation
from billing.models import TokenPurchase
from billing.services import payment_record
from billing.tasks import data_export_build_task
from billing_portal.common.models import AuditEvent
from billing_portal.common.testing import usd
from credits.services import credit_entry_append
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    """Archives go to a folder of this test (the storage is rebuilt when STORAGES changes)."""
    folder = tmp_path / "exports"
    settings.STORAGES = {
        **settings.STORAGES,
        "data_exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    return folder


def _customer_with_history(customer, invoice_factory):
    service_on(ServerFactory(), customer=customer, status="active", domain="shop.example")
    invoice = invoice_factory(customer, "25.00")
    payment_record(
        invoice_id=invoice.pk, gateway="manual", reference="SEPA-1", amount=invoice.total
    )
    credit_entry_append(customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="k")
    TokenPurchase.objects.create(
        customer=customer,
        source="staff",
        status="delivered",
        tokens=Decimal("500"),
        rate=Decimal("100"),
        currency="USD",
        amount=usd("0"),
    )
    return invoice


def _request(client, customer, capture):
    client.force_login(customer.user)
    with capture(execute=True):
        return client.post(reverse("accounts:data_export"))


def _link(mail) -> str:
    return re.search(r"http://\S+/accounts/data/download/\S+/", mail.body).group(0)


def test_a_customer_asks_for_their_data_and_downloads_the_archive(
    client, customer, invoice_factory, mailoutbox, django_capture_on_commit_callbacks, export_dir
):
    # given
    invoice = _customer_with_history(customer, invoice_factory)
    # when
    response = _request(client, customer, django_capture_on_commit_callbacks)
    # then: built by the task, stored outside the web root, the link emailed
    assert response.status_code == 302
    export = DataExport.objects.get(customer=customer)
    assert export.status == "ready"
    assert (export_dir / export.file_name).is_file()
    assert export.expires_at == export.finished_at + timedelta(days=7)
    [mail] = [m for m in mailoutbox if "archive" in m.subject]
    assert mail.to == [customer.user.email]
    path = _link(mail).split("127.0.0.1:8000", 1)[-1]
    page = client.get(reverse("accounts:data_export"))
    assert "Download the archive" in page.content.decode()
    download = client.get(path)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Cache-Control"] == "private, no-store"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = set(archive.namelist())
    assert {
        "README.txt",
        "profile.json",
        "services.json",
        "invoices.json",
        "payments.json",
        "credit_ledger.json",
        "token_purchases.json",
        "audit_events.json",
        f"invoices/{invoice.number}.pdf",
    } <= names
    assert archive.read(f"invoices/{invoice.number}.pdf").startswith(b"%PDF")
    profile = json.loads(archive.read("profile.json"))
    assert (profile["email"], profile["name"]) == (customer.user.email, customer.name)
    assert json.loads(archive.read("services.json"))[0]["domain"] == "shop.example"
    assert json.loads(archive.read("invoices.json"))[0]["total"] == {
        "amount": "25.00",
        "currency": "USD",
    }
    assert json.loads(archive.read("payments.json"))[0]["reference"] == "SEPA-1"
    assert json.loads(archive.read("credit_ledger.json"))[0]["amount"]["amount"] == "5.00"
    assert json.loads(archive.read("token_purchases.json"))[0]["tokens"] == "500.00"
    actions = {e["action"] for e in json.loads(archive.read("audit_events.json"))}
    assert {"account.data_export_requested", "invoice.issued"} <= actions
    audited = set(
        AuditEvent.objects.filter(
            customer=customer, action__startswith="account.data_export"
        ).values_list("action", flat=True)
    )
    assert audited == {
        "account.data_export_requested",
        "account.data_export_ready",
        "account.data_export_downloaded",
    }


def test_only_that_customer_may_download(
    client, customer, other_customer, mailoutbox, django_capture_on_commit_callbacks
):
    _request(client, customer, django_capture_on_commit_callbacks)
    path = _link(mailoutbox[-1]).split("127.0.0.1:8000", 1)[-1]
    client.logout()
    assert client.get(path).status_code == 302  # signed out: to the login page
    assert_customer_isolation(client, urls=[path], owner=customer, intruder=other_customer)


def test_a_forged_or_expired_link_is_refused(
    client, customer, mailoutbox, django_capture_on_commit_callbacks
):
    _request(client, customer, django_capture_on_commit_callbacks)
    path = _link(mailoutbox[-1]).split("127.0.0.1:8000", 1)[-1]
    export = DataExport.objects.get()
    forged = reverse("accounts:data_export_download", args=[f"{export.pk}:forged"])
    assert client.get(forged).status_code == 404
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        client.force_login(customer.user)  # signed in again: the old session timed out
        assert client.get(path).status_code == 404


def test_one_export_at_a_time(client, customer, django_capture_on_commit_callbacks):
    client.force_login(customer.user)
    data_rights.data_export_request(customer=customer)  # queued, not built (no commit)
    response = client.post(reverse("accounts:data_export"), follow=True)
    assert "already being prepared" in response.content.decode()
    assert DataExport.objects.filter(customer=customer).count() == 1
    page = client.get(reverse("accounts:data_export")).content.decode()
    assert "Queued" in page
    assert 'http-equiv="refresh"' in page


def test_the_task_builds_an_export_once(customer, django_capture_on_commit_callbacks):
    export = DataExport.objects.create(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        assert data_export_build_task(export.pk) == "ready"
    assert data_export_build_task(export.pk) is None  # a repeated message: nothing
    assert AuditEvent.objects.filter(action="account.data_export_ready").count() == 1


def test_a_failed_build_is_marked_failed_and_may_be_asked_again(
    client, customer, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("renderer down")

    monkeypatch.setattr("billing.services.data_rights.data_export_archive", broken)
    export = DataExport.objects.create(customer=customer)
    with pytest.raises(RuntimeError):
        data_export_build_task(export.pk)
    export.refresh_from_db()
    assert (export.status, export.error) == ("failed", "RuntimeError: renderer down")
    client.force_login(customer.user)
    assert "could not prepare" in client.get(reverse("accounts:data_export")).content.decode()
    data_rights.data_export_request(customer=customer)  # allowed again


def test_the_sweep_deletes_expired_archives(
    client, customer, export_dir, django_capture_on_commit_callbacks
):
    _request(client, customer, django_capture_on_commit_callbacks)
    export = DataExport.objects.get()
    stale = DataExport.objects.create(customer=customer)
    DataExport.objects.filter(pk=stale.pk).update(requested_at=timezone.now() - timedelta(hours=2))
    assert data_rights.data_exports_prune() == 0  # not expired yet
    assert (export_dir / export.file_name).is_file()
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert data_rights.data_exports_prune() == 1
    assert not (export_dir / export.file_name).exists()
    export.refresh_from_db()
    stale.refresh_from_db()
    assert (export.status, export.file_name, stale.status) == ("expired", "", "failed")


def test_the_page_needs_a_customer_and_a_login(client, customer):
    page = reverse("accounts:data_export")
    assert client.get(page).status_code == 302
    client.force_login(customer.user)
    body = client.get(page).content.decode()
    assert "No archives yet" in body
    assert "Prepare my archive" in body
