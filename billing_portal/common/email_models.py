"""Staff's wording of an email (billing_portal/common/email_overrides.py renders it)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EmailTemplateOverride(models.Model):
    """Replaces the file templates of one email while active; deleting or deactivating it
    sends the file templates again. Its text is validated by the sandbox before it is saved
    (only the email's own variables, only safe tags and filters)."""

    # One of email_catalogue's names (the admin form offers them; no choices here, so a new
    # email needs no migration).
    name = models.CharField("email", max_length=100, unique=True)
    subject = models.CharField(max_length=200)
    text = models.TextField("plain-text body")
    html = models.TextField("HTML body")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "email template override"
        permissions = [("test_send_emailtemplateoverride", "Can send a test of an email override")]

    def __str__(self) -> str:
        return self.name
