"""Staff's email overrides (billing_portal/common/email_overrides.py, rendered in the sandbox
of email_sandbox.py), the new emails (payment receipt with the invoice PDF, service
unsuspended, credit added by staff) and the customers' email preferences."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.template.loader import get_template
from django.urls import reverse

from accounts.email_preferences import email_preferences_update
from accounts.models import EmailPreferences
from accounts.tests.factories import CustomerFactory, UserFactory
from billing import services as billing_services
from billing_portal.common.audit import AuditEvent, EmailOverrideAudit
from billing_portal.common.email_catalogue import EMAIL_VARIABLES, email_variable_names
from billing_portal.common.email_overrides import (
    email_override_delete,
    email_override_preview,
    email_override_save,
    email_override_test_send,
    email_override_validate,
)
from billing_portal.common.email_sandbox import template_variables
from billing_portal.common.emails import email_render, email_send
from billing_portal.common.models import EmailTemplateOverride
from billing_portal.common.testing import usd
from credits.services import credit_add_by_staff
from provisioning import services as provisioning_services
from provisioning.tests.factories import ServerFactory, service_on

pytestmark = pytest.mark.django_db

REMINDER = {
    "customer_name": "Ada",
    "number": "INV-7",
    "amount_due": "USD 5.00",
    "due_date": "2026-12-15",
    "invoice_path": "/invoices/7/",
    "overdue": False,
    "due_today": False,
    "final": False,
}


def _override(**fields) -> EmailTemplateOverride:
    values = {
        "name": "invoice_reminder",
        "subject": "Please pay {{ number }}",
        "text": "Dear {{ customer_name }}, {{ amount_due }} is due.",
        "html": "<p>Dear {{ customer_name }}, {{ amount_due }} is due.</p>",
        **fields,
    }
    return email_override_save(override=EmailTemplateOverride(**values), actor=None)


# --- the registry agrees with the templates ------------------------------------------------


def test_every_email_template_is_declared_with_the_variables_it_uses():
    folder = Path(settings.BASE_DIR) / "templates" / "emails"
    names = {p.name.removesuffix("_subject.txt") for p in folder.glob("*_subject.txt")}
    assert names == set(EMAIL_VARIABLES)
    for name in names:
        used = set()
        for suffix in ("_subject.txt", ".txt", ".html"):
            used |= template_variables(get_template(f"emails/{name}{suffix}").template)
        assert used <= email_variable_names(name), name


# --- the sandbox -----------------------------------------------------------------------------


def test_an_active_override_is_used_and_escapes_html():
    _override()
    subject, text, html = email_render(
        name="invoice_reminder", context={**REMINDER, "customer_name": "<b>Ada</b>"}
    )
    assert subject == "Please pay INV-7"
    assert text == "Dear <b>Ada</b>, USD 5.00 is due."  # plain text is not escaped
    assert html == "<p>Dear &lt;b&gt;Ada&lt;/b&gt;, USD 5.00 is due.</p>"


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}{% static 'x' %}",
        "{% include 'emails/base.html' %}",
        "{% extends 'emails/base.html' %}",
        "{% ssi '/etc/passwd' %}",
        "{% debug %}",
        "{% url 'admin:index' %}",
        "{{ customer_name|safe }}",
        "{% autoescape off %}{{ customer_name }}{% endautoescape %}",
        "{% csrf_token %}",
    ],
)
def test_tags_and_filters_outside_the_sandbox_are_refused(source):
    with pytest.raises(ValidationError) as refused:
        email_override_validate(name="invoice_reminder", subject="Hi", text="Hi", html=source)
    assert "html" in refused.value.message_dict


@pytest.mark.parametrize(
    "source",
    [
        "{{ secret_key }}",
        "{{ number|default:settings }}",
        "{% if user %}x{% endif %}",
        "{% for line in lines %}{{ line }}{% endfor %}",
    ],
)
def test_unknown_variables_are_refused(source):
    with pytest.raises(ValidationError, match="Unknown variables"):
        email_override_validate(name="invoice_reminder", subject=source, text="x", html="x")


def test_loop_and_with_variables_are_known_inside_them():
    email_override_validate(
        name="invoice_reminder",
        subject="{% with n=number %}{{ n }}{% endwith %}",
        text="{% for c in customer_name %}{{ c }}{{ forloop.counter }}{% endfor %}",
        html="{% if overdue and not final %}{{ due_date|date:'Y' }}{% endif %}",
    )


def test_a_refused_override_is_not_saved():
    with pytest.raises(ValidationError):
        _override(html="{% load i18n %}")
    assert not EmailTemplateOverride.objects.exists()


def test_an_unknown_email_name_is_refused():
    with pytest.raises(ValidationError):
        email_override_validate(name="nope", subject="x", text="x", html="x")


# --- falling back --------------------------------------------------------------------------


def test_deleting_or_deactivating_falls_back_to_the_file_template():
    override = _override()
    override.is_active = False
    email_override_save(override=override, actor=None)
    assert email_render(name="invoice_reminder", context=REMINDER)[0] == (
        "Invoice INV-7 is due on 2026-12-15"
    )
    override.is_active = True
    email_override_save(override=override, actor=None)
    assert email_render(name="invoice_reminder", context=REMINDER)[0] == "Please pay INV-7"
    email_override_delete(override=override, actor=None)
    assert email_render(name="invoice_reminder", context=REMINDER)[0] == (
        "Invoice INV-7 is due on 2026-12-15"
    )
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("id"))
    assert actions == [EmailOverrideAudit.SAVED] * 3 + [EmailOverrideAudit.DELETED]


def test_an_unreadable_override_table_sends_the_file_template_in_a_usable_transaction():
    # given: an override, and a database without its table (new code before its migration)
    _override()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE common_emailtemplateoverride RENAME TO gone")
        # when
        subject = email_render(name="invoice_reminder", context=REMINDER)[0]
        # then: the file template, and the transaction still answers
        assert subject == "Invoice INV-7 is due on 2026-12-15"
        assert EmailPreferences.objects.count() >= 0
        transaction.set_rollback(True)


# --- preview and test send -----------------------------------------------------------------


def test_preview_renders_the_sample_values():
    rendered = email_override_preview(_override())
    assert rendered.subject == "Please pay INV-2026-0042"
    assert "Jane Doe" in rendered.html


def test_test_send_goes_to_the_staff_member_only():
    staff = UserFactory(is_staff=True, email="ops-person@example.com")
    email_override_test_send(override=_override(), actor=staff)
    (message,) = mail.outbox
    assert message.to == ["ops-person@example.com"]
    assert message.subject == "[Test] Please pay INV-2026-0042"
    assert AuditEvent.objects.filter(action=EmailOverrideAudit.TEST_SENT).count() == 1


def test_admin_saves_previews_and_test_sends(staff_client):
    page = reverse("admin:common_emailtemplateoverride_add")
    assert "customer_name" in staff_client.get(page).content.decode()  # the variables listed
    refused = staff_client.post(
        page,
        {"name": "invoice_reminder", "subject": "{% load x %}", "text": "t", "html": "h"},
    )
    assert refused.status_code == 200
    assert not EmailTemplateOverride.objects.exists()
    data = {
        "name": "invoice_reminder",
        "is_active": "on",
        "subject": "Pay {{ number }}",
        "text": "Hi {{ customer_name }}",
        "html": "<p>Hi {{ customer_name }}</p>",
    }
    assert staff_client.post(page, data).status_code == 302
    override = EmailTemplateOverride.objects.get()
    preview = staff_client.get(
        reverse("admin:common_emailtemplateoverride_preview", args=[override.pk])
    )
    assert "Pay INV-2026-0042" in preview.content.decode()
    sent = staff_client.post(
        reverse("admin:common_emailtemplateoverride_test_send", args=[override.pk])
    )
    assert sent.status_code == 302
    assert mail.outbox[-1].subject == "[Test] Pay INV-2026-0042"


# --- the new emails --------------------------------------------------------------------------


def _pay(invoice, django_capture_on_commit_callbacks, reference="ref-1"):
    with django_capture_on_commit_callbacks(execute=True):
        return billing_services.payment_record(
            invoice_id=invoice.pk, gateway="manual", reference=reference, amount=invoice.total
        )


def _receipts() -> list:
    return [m for m in mail.outbox if m.subject.startswith("Receipt:")]


def test_a_payment_sends_one_receipt_with_the_invoice_pdf(
    customer, invoice_factory, django_capture_on_commit_callbacks
):
    invoice = invoice_factory(customer, "12.00")
    _pay(invoice, django_capture_on_commit_callbacks)
    _pay(invoice, django_capture_on_commit_callbacks)  # the same reference again: no second
    (receipt,) = _receipts()
    assert receipt.to == [customer.user.email]
    assert invoice.number in receipt.subject
    ((filename, content, mimetype),) = receipt.attachments
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")


def test_receipts_follow_the_customers_preference(
    customer, invoice_factory, django_capture_on_commit_callbacks
):
    email_preferences_update(customer=customer, values={"payment_receipts": False})
    _pay(invoice_factory(customer, "12.00"), django_capture_on_commit_callbacks)
    assert _receipts() == []


def test_receipt_is_sent_once_however_often_its_task_is_delivered(
    customer, invoice_factory, django_capture_on_commit_callbacks
):
    from billing_portal.common.models import OutboxMessage
    from billing_portal.common.outbox import outbox_run_once
    from payments.services import payment_receipt_send

    payment = _pay(invoice_factory(customer, "12.00"), django_capture_on_commit_callbacks)
    message = OutboxMessage.objects.get(task_name="payments.payment_receipt_send")
    again = outbox_run_once(message.pk, lambda: payment_receipt_send(payment_id=payment.pk))
    assert again is False
    assert len(_receipts()) == 1


def _suspended_service(customer):
    service = service_on(ServerFactory(), customer=customer, status="suspended")
    service.external_id = f"sandbox-svc-{service.pk}"
    service.save(update_fields=["external_id"])
    return service


def test_unsuspending_sends_one_email(customer, django_capture_on_commit_callbacks):
    service = _suspended_service(customer)
    with django_capture_on_commit_callbacks(execute=True):
        provisioning_services.service_unsuspend(service_id=service.pk, reason="Paid")
        provisioning_services.service_unsuspend(service_id=service.pk, reason="Paid")
    sent = [m for m in mail.outbox if "running again" in m.subject]
    assert len(sent) == 1
    assert sent[0].to == [customer.user.email]
    assert f"/services/{service.pk}/" in sent[0].body


def test_credit_added_by_staff_sends_one_email(customer, django_capture_on_commit_callbacks):
    staff = UserFactory(is_staff=True)
    for _ in range(2):  # the same form submitted twice: one entry, one email
        with django_capture_on_commit_callbacks(execute=True):
            credit_add_by_staff(
                customer=customer,
                amount=usd("25.00"),
                reason="Internal: outage goodwill",
                staff=staff,
                request_key="form-1",
            )
    (sent,) = [m for m in mail.outbox if "account credit added" in m.subject]
    assert "25.00" in sent.body
    assert "Internal" not in sent.body


def test_account_updates_can_be_switched_off(customer, django_capture_on_commit_callbacks):
    email_preferences_update(customer=customer, values={"account_updates": False})
    service = _suspended_service(customer)
    with django_capture_on_commit_callbacks(execute=True):
        provisioning_services.service_unsuspend(service_id=service.pk, reason="Paid")
        credit_add_by_staff(
            customer=customer,
            amount=usd("5.00"),
            reason="x",
            staff=UserFactory(is_staff=True),
            request_key="k",
        )
    assert mail.outbox == []


def test_essential_email_is_sent_whatever_the_preferences(customer):
    email_preferences_update(
        customer=customer, values={"payment_receipts": False, "account_updates": False}
    )
    email_send(to=[customer.user.email], name="invoice_reminder", context=REMINDER)
    assert len(mail.outbox) == 1


def test_an_override_of_a_new_email_is_used(customer, django_capture_on_commit_callbacks):
    _override(
        name="credit_added",
        subject="Gift: {{ amount }}",
        text="{{ balance }}",
        html="<p>{{ balance }}</p>",
    )
    with django_capture_on_commit_callbacks(execute=True):
        credit_add_by_staff(
            customer=customer,
            amount=usd("5.00"),
            reason="x",
            staff=UserFactory(is_staff=True),
            request_key="k",
        )
    subject = mail.outbox[-1].subject
    assert subject.startswith("Gift: ")
    assert "5.00" in subject


# --- the client-area page --------------------------------------------------------------------


def test_the_customer_chooses_their_optional_emails(client, customer):
    client.force_login(customer.user)
    url = reverse("accounts:email_preferences")
    page = client.get(url)
    assert page.status_code == 200
    assert "always sent" in page.content.decode()
    assert client.post(url, {"account_updates": "on"}).status_code == 302
    saved = EmailPreferences.objects.get(customer=customer)
    assert (saved.payment_receipts, saved.account_updates) == (False, True)


def test_preferences_are_the_customers_own(client, customer):
    other = CustomerFactory()
    client.force_login(customer.user)
    client.post(reverse("accounts:email_preferences"), {})
    assert not EmailPreferences.objects.filter(customer=other).exists()
    assert EmailPreferences.objects.get(customer=customer).payment_receipts is False


def test_the_page_needs_a_login(client):
    response = client.get(reverse("accounts:email_preferences"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_staff_login_without_a_customer_gets_404(client):
    client.force_login(UserFactory(is_staff=False))
    assert client.get(reverse("accounts:email_preferences")).status_code == 404
