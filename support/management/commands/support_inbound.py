"""Take one customer reply by email: the mail server pipes the raw RFC 822 message to
`manage.py support_inbound` (e.g. an alias `support: "|/path/manage.py support_inbound"`).
A refused message exits with status 67 (EX_NOUSER) and the reason, so the mail server
bounces it; a message taken, or taken before (the same Message-ID), exits 0."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing_portal.common.errors import DomainError
from support.services import ticket_reply_from_email

EX_NOUSER = 67
MAX_BYTES = 30 * 1024 * 1024


class Command(BaseCommand):
    help = "Add a customer's emailed reply (a raw message on stdin) to its ticket."

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise CommandError("The message is too large.", returncode=EX_NOUSER)
        try:
            message = ticket_reply_from_email(raw=raw)
        except DomainError as error:
            raise CommandError(error.message, returncode=EX_NOUSER) from error
        if message is None:
            self.stdout.write("Already taken: this email was added before.")
        else:
            self.stdout.write(f"Added to ticket #{message.ticket_id}.")
