"""Forms of the support desk (client area and staff's reply form)."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from billing_portal.common.forms import (
    BIDI_CONTROLS,
    IdChoiceField,
    RequestKeyField,
    SingleLineCharField,
)
from support.models import Priority, Ticket
from support.services import BODY_MAX

# Line breaks and tabs are text in a message; other control characters are not.
TEXT_CONTROLS = frozenset("\n\r\t")


def validate_message_text(value: str) -> None:
    if any(
        (unicodedata.category(char) == "Cc" and char not in TEXT_CONTROLS) or char in BIDI_CONTROLS
        for char in value
    ):
        raise ValidationError(
            "Remove control characters (such as escape codes or text-direction marks).",
            code="control_characters",
        )


class MessageField(forms.CharField):
    default_validators = [validate_message_text]
    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", BODY_MAX)
        kwargs.setdefault(
            "help_text", "Plain text or Markdown (**bold**, `code`, lists, links); no HTML."
        )
        super().__init__(**kwargs)


class MultipleFileInput(forms.FileInput):  # no "clear" box: nothing to clear
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Any number of files (the count, size and type are checked by support.attachments)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def _attachments_help() -> str:
    megabytes = settings.SUPPORT_ATTACHMENT_MAX_BYTES // (1024 * 1024) or 1
    return (
        f"Up to {settings.SUPPORT_ATTACHMENT_MAX_COUNT} files of {megabytes} MB each: images, "
        "PDF, ZIP or plain text."
    )


class TicketOpenForm(forms.Form):
    department = IdChoiceField(queryset=None, empty_label="Choose a department")
    subject = SingleLineCharField(max_length=200)
    body = MessageField(label="Message")
    service = IdChoiceField(
        queryset=None, required=False, label="Related service", empty_label="None"
    )
    support_key = SingleLineCharField(
        max_length=200,
        required=False,
        label="Support key (optional)",
        help_text="The key of your support subscription, for its priority and response time.",
    )
    attachments = AttachmentsField()
    request_key = RequestKeyField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, departments: Any, services: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        self.fields["service"].queryset = services
        self.fields["attachments"].help_text = _attachments_help()


class TicketReplyForm(forms.Form):
    body = MessageField(label="Your reply", widget=forms.Textarea(attrs={"rows": 6}))
    attachments = AttachmentsField()
    request_key = RequestKeyField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = _attachments_help()


class StaffReplyForm(forms.Form):
    AFTER = (
        (Ticket.Status.AWAITING_CUSTOMER, "Awaiting customer"),
        (Ticket.Status.ON_HOLD, "On hold"),
        (Ticket.Status.CLOSED, "Closed"),
    )
    body = MessageField(label="Message")
    internal = forms.BooleanField(
        required=False, label="Internal note (staff only: the customer never sees it)"
    )
    status = forms.ChoiceField(choices=AFTER, initial=Ticket.Status.AWAITING_CUSTOMER, label="Then")
    attachments = AttachmentsField()
    request_key = RequestKeyField(widget=forms.HiddenInput)


# --- admin actions' intermediate forms -----------------------------------------------------


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=Priority.choices)


class DepartmentForm(forms.Form):
    department = IdChoiceField(queryset=None)

    def __init__(self, *args: Any, departments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments


class AssignForm(forms.Form):
    assignee = IdChoiceField(queryset=None, required=False, empty_label="Nobody")

    def __init__(self, *args: Any, staff: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff


class MergeForm(forms.Form):
    into = IdChoiceField(queryset=None, label="Merge into ticket")

    def __init__(self, *args: Any, tickets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = tickets
