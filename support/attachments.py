"""Checks on a ticket's attachments before anything is stored: how many, how large, and what
the file is, told by its first bytes (`filetype`), never by the name or the browser's word.
An allowed type must also carry one of its own extensions, so an executable renamed to
`invoice.pdf` (its content says it is a Windows program) or a text file named `run.exe` is
refused. Files are stored under a random name; the name shown is the uploaded one, cleaned.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Protocol

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.text import get_valid_filename

from support.errors import AttachmentRefused

HEAD_BYTES = 8192
TEXT = "text/plain"
# Detected type -> the extensions a file of that type may have.
ALLOWED: dict[str, frozenset[str]] = {
    "image/png": frozenset({"png"}),
    "image/jpeg": frozenset({"jpg", "jpeg"}),
    "image/gif": frozenset({"gif"}),
    "image/webp": frozenset({"webp"}),
    "application/pdf": frozenset({"pdf"}),
    "application/zip": frozenset({"zip"}),
    "application/gzip": frozenset({"gz", "tgz"}),
    TEXT: frozenset({"txt", "log", "md", "csv", "json", "conf", "ini", "yaml", "yml", "xml"}),
}
# Shown inline by the browser (the rest is always a download).
INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
ALLOWED_LABEL = "images (PNG, JPEG, GIF, WebP), PDF, ZIP or gzip archives and plain text"


class Upload(Protocol):
    """What an uploaded file offers (Django's UploadedFile, or an email's part wrapped)."""

    @property
    def name(self) -> str | None: ...
    @property
    def size(self) -> int | None: ...

    def read(self, size: int = -1) -> bytes: ...
    def seek(self, offset: int, whence: int = 0) -> int: ...


@dataclass(frozen=True)
class CheckedFile:
    name: str  # cleaned, as shown
    content_type: str
    size: int
    content: ContentFile  # under a random storage name


def _detected_type(head: bytes) -> str | None:
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if b"\x00" in head:
        return None  # binary of a type we do not know
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the head
            return None
    return TEXT


def clean_name(name: str) -> str:
    base = get_valid_filename(os.path.basename(name.replace("\\", "/"))) or "file"
    stem, ext = os.path.splitext(base)
    return f"{stem[: 140 - len(ext)]}{ext}" if len(base) > 140 else base


def attachment_check(upload: Upload) -> CheckedFile:
    """The file as it will be stored, or AttachmentRefused saying why."""
    name = clean_name(upload.name or "file")
    size = upload.size or 0
    if size > settings.SUPPORT_ATTACHMENT_MAX_BYTES:
        limit = settings.SUPPORT_ATTACHMENT_MAX_BYTES // (1024 * 1024) or 1
        raise AttachmentRefused(f"{name} is larger than {limit} MB.")
    upload.seek(0)
    data = upload.read(settings.SUPPORT_ATTACHMENT_MAX_BYTES + 1)
    if len(data) > settings.SUPPORT_ATTACHMENT_MAX_BYTES:
        raise AttachmentRefused(f"{name} is too large.")
    if not data:
        raise AttachmentRefused(f"{name} is empty.")
    detected = _detected_type(data[:HEAD_BYTES])
    extension = os.path.splitext(name)[1].lower().lstrip(".")
    if detected not in ALLOWED or extension not in ALLOWED[detected]:
        raise AttachmentRefused(
            f"{name} is not a file type we accept: attach {ALLOWED_LABEL}, with their usual "
            "file name ending."
        )
    content = ContentFile(data, name=f"{uuid.uuid4().hex}.{extension}")
    return CheckedFile(name=name, content_type=detected, size=len(data), content=content)


def attachments_check(uploads: list[Upload]) -> list[CheckedFile]:
    if len(uploads) > settings.SUPPORT_ATTACHMENT_MAX_COUNT:
        raise AttachmentRefused(
            f"Attach at most {settings.SUPPORT_ATTACHMENT_MAX_COUNT} files to one message."
        )
    return [attachment_check(upload) for upload in uploads]
