"""Staff notes on a customer: written only through the services (each change audited, the
text never in the audit log), staff only, and never shown to the customer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.audit import AccountAudit, StaffNoteAudit
from accounts.errors import StaffNoteRefused
from accounts.models import StaffNote
from accounts.selectors import audit_event_list_for_customer, staff_notes_for_customer
from accounts.tests.factories import AuditEventFactory, CustomerFactory, StaffNoteFactory
from accounts.tests.helpers import logged_in, staff_user
from billing_portal.common.audit import AuditEvent
from billing_portal.common.request import RequestMeta

pytestmark = pytest.mark.django_db

SECRET = "Threatened a chargeback; handle with care"


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_staff_note_add_records_who_wrote_it_and_an_event_without_the_text(customer):
    # given
    staff = staff_user()
    meta = RequestMeta(ip_address="198.51.100.4", user_agent="test")
    # when
    note = services.staff_note_add(
        customer_id=customer.pk, author=staff, body=f"  {SECRET}\n", pinned=True, meta=meta
    )
    # then
    assert (note.customer, note.author, note.body, note.pinned) == (customer, staff, SECRET, True)
    [event] = _events(StaffNoteAudit.NOTE_ADDED)
    assert (event.actor, event.customer, event.object_id) == (staff, customer, str(note.pk))
    assert event.ip_address == "198.51.100.4"
    assert event.details == {"pinned": True}
    assert SECRET not in str(event.details)


def test_staff_note_add_twice_at_once_is_one_note(customer):
    staff = staff_user()
    first = services.staff_note_add(customer_id=customer.pk, author=staff, body=SECRET)
    again = services.staff_note_add(customer_id=customer.pk, author=staff, body=SECRET)
    assert again == first
    assert StaffNote.objects.count() == 1
    assert len(_events(StaffNoteAudit.NOTE_ADDED)) == 1


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 5001])
def test_staff_note_add_refuses_empty_and_over_long_text(customer, body):
    with pytest.raises(StaffNoteRefused):
        services.staff_note_add(customer_id=customer.pk, author=staff_user(), body=body)
    assert not StaffNote.objects.exists()
    assert not AuditEvent.objects.exists()


def test_staff_notes_are_refused_to_non_staff(customer):
    with pytest.raises(StaffNoteRefused):
        services.staff_note_add(customer_id=customer.pk, author=customer.user, body=SECRET)
    note = StaffNoteFactory(customer=customer)
    with pytest.raises(StaffNoteRefused):
        services.staff_note_edit(note_id=note.pk, actor=customer.user, body="Changed")
    with pytest.raises(StaffNoteRefused):
        services.staff_note_delete(note_id=note.pk, actor=customer.user)
    assert StaffNote.objects.get().body == note.body


def test_staff_note_edit_pin_and_delete_are_audited_once_each(customer):
    # given
    staff = staff_user()
    note = StaffNoteFactory(customer=customer, body="Old text")
    # when: each change twice; the second asks for what is already so
    for _ in range(2):
        services.staff_note_edit(note_id=note.pk, actor=staff, body="New text")
        services.staff_note_pin(note_id=note.pk, actor=staff, pinned=True)
    services.staff_note_pin(note_id=note.pk, actor=staff, pinned=False)
    note.refresh_from_db()
    assert (note.body, note.pinned) == ("New text", False)
    services.staff_note_delete(note_id=note.pk, actor=staff)
    services.staff_note_delete(note_id=note.pk, actor=staff)  # gone already: done
    # then
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "object_id"))
    assert actions == [
        (StaffNoteAudit.NOTE_EDITED, str(note.pk)),
        (StaffNoteAudit.NOTE_PINNED, str(note.pk)),
        (StaffNoteAudit.NOTE_UNPINNED, str(note.pk)),
        (StaffNoteAudit.NOTE_DELETED, str(note.pk)),
    ]
    assert not StaffNote.objects.exists()
    assert all("text" not in str(e.details) for e in AuditEvent.objects.all())


def test_notes_are_listed_pinned_first_then_newest_first(customer):
    older = StaffNoteFactory(customer=customer)
    pinned = StaffNoteFactory(customer=customer, pinned=True)
    newer = StaffNoteFactory(customer=customer)
    StaffNoteFactory()  # another customer's
    assert list(staff_notes_for_customer(customer=customer)) == [pinned, newer, older]


# --- Never shown to the customer ----------------------------------------------------------


def test_the_customer_sees_neither_notes_nor_their_events(client, customer):
    # given: a note, changed, and an ordinary event of the customer's
    staff = staff_user()
    note = services.staff_note_add(customer_id=customer.pk, author=staff, body=SECRET)
    services.staff_note_pin(note_id=note.pk, actor=staff, pinned=True)
    own = AuditEventFactory(customer=customer, action=AccountAudit.LOGIN)
    note_event = AuditEvent.objects.filter(action=StaffNoteAudit.NOTE_ADDED).get()
    # when
    client.force_login(customer.user)
    pages = [
        client.get(reverse("dashboard")),
        client.get(reverse("accounts:activity_list")),
        client.get(reverse("api:me")),
    ]
    # then
    shown = list(audit_event_list_for_customer(customer=customer))
    assert own in shown
    assert not [e for e in shown if e.action.startswith("staff_note.")]
    for page in pages:
        assert page.status_code == 200
        content = page.content.decode()
        assert SECRET not in content
        assert "Staff note" not in content
    detail = reverse("accounts:activity_detail", args=[note_event.pk])
    assert client.get(detail).status_code == 404


# --- The staff screen of notes ------------------------------------------------------------


def test_staff_add_change_and_delete_notes_in_the_admin_through_the_services(customer):
    staff = logged_in(staff_user(superuser=True))
    added = staff.post(
        reverse("admin:accounts_staffnote_add"), {"customer": customer.pk, "body": SECRET}
    )
    assert added.status_code == 302
    note = StaffNote.objects.get()
    assert (note.customer, note.author.is_staff, note.pinned) == (customer, True, False)

    change = reverse("admin:accounts_staffnote_change", args=[note.pk])
    assert staff.post(change, {"body": "Called back", "pinned": "on"}).status_code == 302
    note.refresh_from_db()
    assert (note.customer, note.body, note.pinned) == (customer, "Called back", True)

    delete = reverse("admin:accounts_staffnote_delete", args=[note.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 302
    assert not StaffNote.objects.exists()
    notes = AuditEvent.objects.filter(action__startswith="staff_note.").order_by("id")
    assert [e.action for e in notes] == [
        StaffNoteAudit.NOTE_ADDED,
        StaffNoteAudit.NOTE_EDITED,
        StaffNoteAudit.NOTE_PINNED,
        StaffNoteAudit.NOTE_DELETED,
    ]


@pytest.mark.parametrize("body", ["", "\x00", "bell \x07", "\u202etxt.exe", "x" * 5001])
def test_the_admin_form_refuses_bad_text(customer, body):
    staff = logged_in(staff_user(superuser=True))
    response = staff.post(
        reverse("admin:accounts_staffnote_add"), {"customer": customer.pk, "body": body}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not StaffNote.objects.exists()


def test_notes_are_searchable_and_filterable_by_customer():
    wanted, other = CustomerFactory(), CustomerFactory()
    note = StaffNoteFactory(customer=wanted, body="Prefers phone calls")
    StaffNoteFactory(customer=other)
    staff = logged_in(staff_user("view_staffnote"))
    changelist = reverse("admin:accounts_staffnote_changelist")
    for query in ({"q": "phone calls"}, {"customer__id__exact": wanted.pk}):
        response = staff.get(changelist, query)
        assert list(response.context["cl"].result_list) == [note]


def test_customers_cannot_open_notes(client, customer):
    note = StaffNoteFactory(customer=customer)
    client.force_login(customer.user)
    response = client.get(reverse("admin:accounts_staffnote_change", args=[note.pk]))
    assert response.status_code == 302  # to the admin's login
    assert note.body not in response.content.decode()
