"""Secrets the portal stores are encrypted at rest, and key rotation re-encrypts every row."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from provisioning.models import Server, Service
from provisioning.tests.factories import ServerFactory, service_on

CANARY = "canary-7f3e9b1c-never-in-plaintext"


def _raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY id")  # noqa: S608 (fixed names)
        return [row[0] for row in cursor.fetchall()]


def _with_secrets(customer) -> tuple[Server, Service]:
    server = ServerFactory(credentials={"api_key": CANARY})
    service = service_on(server, customer=customer, secrets={"password": CANARY})
    return server, service


@pytest.mark.django_db
def test_rotation_re_encrypts_every_row_and_old_keys_can_then_go(customer, settings, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    Server.objects.filter(module="dns").delete()  # the migrations' DNS zones "server": no secrets
    _with_secrets(customer)
    before = _raw("provisioning_server", "credentials") + _raw("provisioning_service", "secrets")
    assert all(CANARY not in value for value in before)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_keys")
    assert "Re-encrypted 2 rows" in capsys.readouterr().out
    after = _raw("provisioning_server", "credentials") + _raw("provisioning_service", "secrets")
    assert all(a != b for a, b in zip(before, after, strict=True))

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: everything still reads
    assert Server.objects.get().credentials == {"api_key": CANARY}
    assert Service.objects.get().secrets == {"password": CANARY}
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # a wrong key: refused
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Server.objects.get()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_plaintext_secret(customer):
    _with_secrets(customer)
    db = connection.settings_dict
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "provisioning_server" in dump
    assert CANARY not in dump
