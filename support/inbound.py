"""Reading a customer's emailed reply (a raw RFC 822 message): who sent it, which ticket its
signed token names (in the To/Cc/Delivered-To address or the subject), its text without the
quoted message it answers, and its attached files. No ORM here: support.services decides."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from django.utils.html import strip_tags

from support.tokens import ticket_id_from

ADDRESS_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
# Lines where a mail client starts the quoted message ("On Mon, 1 Jan 2026, X wrote:",
# Outlook's "-----Original Message-----" and "From: ..." block, our own marker).
QUOTE_STARTS = (
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^\s*_{5,}\s*$"),
    re.compile(r"^\s*From:\s.+", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Reply above this line", re.IGNORECASE),
)
SIGNATURE = re.compile(r"^-- ?$")


class NamedBytes(io.BytesIO):
    """An emailed file, with the name and size an upload has."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name
        self.size = len(data)


@dataclass
class InboundEmail:
    sender: str
    ticket_id: int | None
    message_id: str
    text: str
    files: list[NamedBytes] = field(default_factory=list)


def strip_quoted(text: str) -> str:
    """The new text of a reply: up to the quoted message or the signature, without lines
    quoted with '>'."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if any(pattern.match(line) for pattern in QUOTE_STARTS) or SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = str(content) if not isinstance(content, bytes) else content.decode("utf-8", "replace")
    return strip_tags(text) if part.get_content_subtype() == "html" else text


def _files_of(message: EmailMessage) -> list[NamedBytes]:
    files = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            files.append(NamedBytes(data, part.get_filename() or "attachment"))
    return files


def inbound_parse(raw: bytes) -> InboundEmail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # noqa: S101 (policy.default makes one)
    addresses = [
        address
        for header in ADDRESS_HEADERS
        for _, address in getaddresses([str(value) for value in message.get_all(header, [])])
    ]
    subject = str(message.get("Subject", ""))
    return InboundEmail(
        sender=parseaddr(str(message.get("From", "")))[1].strip().lower(),
        ticket_id=ticket_id_from(*addresses, subject),
        message_id=str(message.get("Message-ID", "")).strip()[:250],
        text=strip_quoted(_text_of(message)),
        files=_files_of(message),
    )
