"""Templated email, always sent after commit and off the request path.

A message `name` maps to three templates under templates/emails/: `<name>_subject.txt`,
`<name>.txt` and `<name>.html`. Contexts must be JSON-serialisable because they are stored
in the outbox and travel through the broker to a worker. Each message queued is sent once:
the outbox keeps it while the broker is down, and the task records it sent by outbox row.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def _full_context(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "portal_name": settings.PORTAL_NAME,
        "portal_base_url": settings.PORTAL_BASE_URL,
        **context,
    }


def email_render(*, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Return (subject, text body, html body) for a message: staff's active override of it
    (rendered in the sandbox), else the file templates."""
    from billing_portal.common.email_overrides import email_override_active, override_render

    full = _full_context(context)
    override = email_override_active(name)
    if override is not None:
        rendered = override_render(override, full)
        return rendered.subject, rendered.text, rendered.html
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", full).split())
    text = render_to_string(f"emails/{name}.txt", full)
    html = render_to_string(f"emails/{name}.html", full)
    return subject, text, html


def email_send(
    *,
    to: list[str],
    name: str,
    context: dict[str, Any],
    reply_to: list[str] | None = None,
    attachments: list[tuple[str, bytes, str]] | None = None,
) -> None:
    """Render and send now. Called by the email task; use email_send_on_commit elsewhere.
    `attachments`: (file name, content, MIME type), e.g. a receipt's invoice PDF."""
    subject, text, html = email_render(name=name, context=context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=to, reply_to=reply_to)
    message.attach_alternative(html, "text/html")
    for filename, content, mimetype in attachments or []:
        message.attach(filename, content, mimetype)
    message.send()


def email_send_on_commit(
    *, to: list[str], name: str, context: dict[str, Any], reply_to: list[str] | None = None
) -> None:
    """Queue a message with the surrounding transaction (never sent if it rolls back),
    through the outbox, so a broker outage delays it and loses nothing. `reply_to`: where
    replies go (the support desk's signed address), when not to the sender."""
    from billing_portal.common.outbox import outbox_enqueue

    kwargs: dict[str, Any] = {"to": to, "name": name, "context": context}
    if reply_to:  # only when given: messages queued before it existed still match the task
        kwargs["reply_to"] = reply_to
    outbox_enqueue("common.email_send", kwargs=kwargs)
