"""Encryption at rest for secrets the portal stores (panel API keys, service passwords).

Fernet (authenticated AES) from `cryptography`, behind a MultiFernet built from
FIELD_ENCRYPTION_KEYS: the first key encrypts, every key decrypts, so a new key is rolled in by
putting it first and running `manage.py rotate_keys`, then the old one is dropped.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _multi_fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes)."
        ) from error


def encrypt(text: str) -> str:
    return _multi_fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _multi_fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS (a key was removed "
            "before `manage.py rotate_keys` ran?)."
        ) from error


def rotate(token: str) -> str:
    """The same secret, encrypted with the first key."""
    return _multi_fernet().rotate(token.encode()).decode()


class EncryptedJSONField(models.TextField):
    """A JSON value (dict, list, string) stored as one Fernet token; empty values stay empty.

    Not searchable or orderable by design: the database only ever sees ciphertext."""

    def from_db_value(self, value: str | None, expression, connection) -> Any:
        if value in (None, ""):
            return self.get_default()
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str:
        if value in (None, "", {}, []):
            return ""
        return encrypt(json.dumps(value, sort_keys=True))


def encrypted_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedJSONField)]
