"""The signed token that ties an email to its ticket: `<ticket id>.<signature>`, in the
reply address (support+<token>@example.com) and in the subject ([ref <token>]), so a reply
finds its ticket and a forged or altered token finds none."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import signing

SALT = "support.ticket-reply"
# Our token, where it appears in an address or subject (the signature is URL-safe base64).
TOKEN = re.compile(r"(?<![A-Za-z0-9])(\d{1,18})\.([A-Za-z0-9_-]{20,100})(?![A-Za-z0-9_-])")


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT, sep=".")


def ticket_token(ticket_id: int) -> str:
    return _signer().sign(str(ticket_id))


def ticket_reply_address(ticket_id: int) -> str:
    """The address replies to a ticket's emails go to ("" when inbound mail is not set up)."""
    inbound = settings.SUPPORT_INBOUND_ADDRESS
    if not inbound or "@" not in inbound:
        return ""
    local, domain = inbound.rsplit("@", 1)
    return f"{local}+{ticket_token(ticket_id)}@{domain}"


def ticket_id_from(*texts: str) -> int | None:
    """The ticket id of the first validly signed token in these texts, else None."""
    for text in texts:
        for match in TOKEN.finditer(text or ""):
            try:
                return int(_signer().unsign(f"{match[1]}.{match[2]}"))
            except signing.BadSignature:
                continue
    return None
