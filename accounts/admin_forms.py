"""Staff forms of accounts: the staff note (the admin's own form and the one on the
customer summary page)."""

from __future__ import annotations

import unicodedata

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import StaffNote
from billing_portal.common.forms import BIDI_CONTROLS

# What a note may hold besides printable text: it is several lines long.
NOTE_WHITESPACE = frozenset("\n\r\t")


def validate_note_text(value: str) -> None:
    """Refuse control characters (NUL, escapes) and text-direction overrides; line breaks
    and tabs are the note's own."""
    if any(
        (unicodedata.category(char) == "Cc" and char not in NOTE_WHITESPACE)
        or char in BIDI_CONTROLS
        for char in value
    ):
        raise ValidationError(
            "Remove control characters (such as escapes or text-direction marks).",
            code="control_characters",
        )


class StaffNoteForm(forms.ModelForm):
    """A note's text and whether it is pinned (the customer is the page's, or chosen in the
    admin's add form)."""

    class Meta:
        model = StaffNote
        fields = ("body", "pinned")
        labels = {"body": "Note", "pinned": "Pin it (shown first)"}
        widgets = {"body": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "body" in self.fields:  # not for staff who may only view the note
            self.fields["body"].validators.append(validate_note_text)
