"""Staff's own wording of an email: validating, saving, deleting, previewing and test-sending
an `EmailTemplateOverride`, and the rendering `email_render` uses while one is active.

The text is compiled in the sandbox (billing_portal/common/email_sandbox.py) with the email's
declared variables (billing_portal/common/email_catalogue.py) when it is saved, so what is
stored always renders; the HTML body is autoescaped, the subject and text body are not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, transaction
from django.utils import timezone

from billing_portal.common.audit import EmailOverrideAudit, audit_record
from billing_portal.common.email_catalogue import (
    EMAIL_VARIABLES,
    email_sample_context,
    email_variable_names,
)
from billing_portal.common.email_models import EmailTemplateOverride
from billing_portal.common.email_sandbox import SandboxError, sandbox_compile, sandbox_render
from billing_portal.common.request import RequestMeta

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser as User

FIELDS = ("subject", "text", "html")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def email_override_validate(*, name: str, subject: str, text: str, html: str) -> None:
    """Raise ValidationError (per field) unless every part compiles in the sandbox with only
    the variables `name` offers."""
    if name not in EMAIL_VARIABLES:
        raise ValidationError({"name": f"There is no email named {name!r}."})
    allowed = email_variable_names(name)
    errors: dict[str, str] = {}
    for field, source in (("subject", subject), ("text", text), ("html", html)):
        try:
            sandbox_compile(source, html=field == "html", allowed=allowed)
        except SandboxError as error:
            errors[field] = str(error)
    if errors:
        raise ValidationError(errors)


def override_render(override: EmailTemplateOverride, context: dict[str, Any]) -> RenderedEmail:
    """The override's (subject, text, html) for a full context (portal variables included)."""
    allowed = email_variable_names(override.name)
    parts = {
        field: sandbox_render(
            sandbox_compile(getattr(override, field), html=field == "html", allowed=allowed),
            context,
        )
        for field in FIELDS
    }
    return RenderedEmail(" ".join(parts["subject"].split()), parts["text"], parts["html"])


def email_override_active(name: str) -> EmailTemplateOverride | None:
    """Staff's active override of the email, if any. A database that cannot answer (new code
    before its migration, during a deploy) sends the file template rather than no email; the
    savepoint keeps a caller's transaction usable after the failed read."""
    try:
        with transaction.atomic():
            return EmailTemplateOverride.objects.filter(name=name, is_active=True).first()
    except DatabaseError:
        logger.warning("Email overrides could not be read; %s is sent as its file template", name)
        return None


@transaction.atomic
def email_override_save(
    *,
    override: EmailTemplateOverride,
    actor: User | None,
    meta: RequestMeta | None = None,
) -> EmailTemplateOverride:
    """Validate and save (create or change) an override, audited."""
    email_override_validate(
        name=override.name, subject=override.subject, text=override.text, html=override.html
    )
    override.updated_at = timezone.now()
    override.updated_by_id = actor.pk if actor is not None else None
    override.save()
    audit_record(
        action=EmailOverrideAudit.SAVED,
        actor=actor,
        target=override,
        meta=meta,
        details={"email": override.name, "active": override.is_active},
    )
    return override


@transaction.atomic
def email_override_delete(
    *, override: EmailTemplateOverride, actor: User | None, meta: RequestMeta | None = None
) -> None:
    """Delete an override: the email is sent from its file templates again."""
    audit_record(
        action=EmailOverrideAudit.DELETED,
        actor=actor,
        target=override,
        meta=meta,
        details={"email": override.name},
    )
    override.delete()


def email_override_preview(override: EmailTemplateOverride) -> RenderedEmail:
    """The override rendered with its email's sample values."""
    return override_render(override, email_sample_context(override.name))


def email_override_test_send(
    *, override: EmailTemplateOverride, actor: User, meta: RequestMeta | None = None
) -> RenderedEmail:
    """Send the preview to the staff member's own address now (not to any customer)."""
    rendered = email_override_preview(override)
    to = actor.get_username()  # the login is the email address
    message = EmailMultiAlternatives(
        subject=f"[Test] {rendered.subject}", body=rendered.text, to=[to]
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
    audit_record(
        action=EmailOverrideAudit.TEST_SENT,
        actor=actor,
        target=override,
        meta=meta,
        details={"email": override.name, "to": to},
    )
    return rendered
