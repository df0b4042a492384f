"""Backups of the portal itself: the encrypted file, rotation, the commands and the daily
task, and the proof: backup, drop the database, restore, and every table's row count and
the credit ledger's checksum are as they were (PostgreSQL, with the ledger's append-only
trigger, and SQLite)."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from billing_portal.celery import app as celery_app
from billing_portal.common import backups
from billing_portal.common.backups import BackupError, decrypt_stream, encrypt_stream
from billing_portal.common.models import PortalBackup
from billing_portal.common.tasks import portal_backup_task

ROOT = Path(__file__).resolve().parents[2]
KEY = Fernet.generate_key().decode()


def _fernet(*keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys or (KEY,)])


def _sealed(data: bytes, *, chunk_size: int = 10, vendor: str = "postgresql") -> bytes:
    output = io.BytesIO()
    encrypt_stream(io.BytesIO(data), output, vendor=vendor, fernet=_fernet(), chunk_size=chunk_size)
    return output.getvalue()


def _opened(sealed: bytes, fernet: MultiFernet | None = None) -> tuple[str, bytes]:
    output = io.BytesIO()
    vendor = decrypt_stream(io.BytesIO(sealed), output, fernet=fernet or _fernet())
    return vendor, output.getvalue()


def _chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    """(header, [length + token, ...]) of a sealed file."""
    header_end = sealed.index(b"\n", len(backups.MAGIC)) + 1
    header, rest, chunks = sealed[:header_end], sealed[header_end:], []
    while rest:
        size = 4 + int.from_bytes(rest[:4], "big")
        chunks.append(rest[:size])
        rest = rest[size:]
    return header, chunks


# --- the encrypted file -------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"short", b"exactly10!", os.urandom(1000)])
def test_a_dump_comes_back_as_it_went_in(data):
    assert _opened(_sealed(data)) == ("postgresql", data)


def test_memory_stays_at_a_chunk_whatever_the_size():
    _, chunks = _chunks(_sealed(os.urandom(95), chunk_size=10))
    assert len(chunks) == 10
    assert max(len(chunk) for chunk in chunks) < 120  # a chunk's data plus Fernet's overhead


def test_an_old_key_still_opens_after_rotation():
    sealed = _sealed(b"ledger")
    new = Fernet.generate_key().decode()
    assert _opened(sealed, _fernet(new, KEY)) == ("postgresql", b"ledger")


def test_a_wrong_key_is_refused():
    with pytest.raises(BackupError, match="cannot be decrypted"):
        _opened(_sealed(b"ledger"), _fernet(Fernet.generate_key().decode()))


def test_a_changed_byte_is_refused():
    sealed = bytearray(_sealed(b"ledger rows"))
    sealed[-5] ^= 1
    with pytest.raises(BackupError, match="cannot be decrypted"):
        _opened(bytes(sealed))


def test_a_file_cut_off_at_a_chunk_boundary_is_refused():
    header, chunks = _chunks(_sealed(os.urandom(50)))
    with pytest.raises(BackupError, match="cut off"):
        _opened(header + b"".join(chunks[:-1]))


def test_reordered_chunks_are_refused():
    header, chunks = _chunks(_sealed(os.urandom(50)))
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(BackupError, match="out of order"):
        _opened(header + b"".join(chunks))


def test_data_after_the_last_chunk_is_refused():
    header, chunks = _chunks(_sealed(os.urandom(30)))
    with pytest.raises(BackupError, match="after its last part"):
        _opened(header + b"".join(chunks) + chunks[0])


@pytest.mark.parametrize("content", [b"", b"PGDMP\x01\x0e", backups.MAGIC + b"oracle\n"])
def test_other_files_are_refused(content):
    with pytest.raises(BackupError):
        _opened(content)


# --- rotation -----------------------------------------------------------------------------


def test_rotation_keeps_the_newest_and_nothing_else_is_touched(tmp_path):
    names = [f"portal-2026030{day}T010000Z.backup" for day in range(1, 6)]
    for name in [*names, "notes.txt", "portal-20260306T010000Z.backup.partial"]:
        (tmp_path / name).write_bytes(b"x")
    deleted = backups.backups_rotate(directory=tmp_path, keep=2)
    assert [path.name for path in deleted] == names[:3]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [*names[3:], "notes.txt", "portal-20260306T010000Z.backup.partial"]
    )


# --- commands and the task (on the test database) -----------------------------------------


@pytest.fixture
def backup_settings(settings, tmp_path):
    settings.BACKUP_DIR = str(tmp_path / "backups")
    settings.BACKUP_ENCRYPTION_KEY = [KEY]
    settings.BACKUP_KEEP = 2
    return settings


@pytest.mark.django_db
def test_backup_writes_an_encrypted_file_readable_only_by_us_and_records_it(backup_settings):
    out = io.StringIO()
    call_command("backup", stdout=out)
    (path,) = Path(backup_settings.BACKUP_DIR).iterdir()
    assert path.name.startswith("portal-")
    assert path.stat().st_mode & 0o777 == 0o600
    vendor = connections["default"].vendor
    assert backups.backup_vendor(path) == vendor
    record = PortalBackup.objects.get()
    assert (record.status, record.file_name, record.size_bytes) == (
        "succeeded",
        path.name,
        path.stat().st_size,
    )
    assert path.name in out.getvalue()
    if vendor == "postgresql":
        assert b"PGDMP" not in path.read_bytes()  # pg_dump's signature is inside the cipher


@pytest.mark.django_db
def test_backup_without_a_key_fails_and_says_so(backup_settings):
    backup_settings.BACKUP_ENCRYPTION_KEY = []
    with pytest.raises(CommandError, match="BACKUP_ENCRYPTION_KEY is not set"):
        call_command("backup")
    record = PortalBackup.objects.get()
    assert record.status == "failed"
    assert "BACKUP_ENCRYPTION_KEY is not set" in record.error
    assert not Path(backup_settings.BACKUP_DIR).exists() or not any(
        Path(backup_settings.BACKUP_DIR).iterdir()
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_failing_pg_dump_leaves_no_file_and_a_failed_record(backup_settings, monkeypatch):
    broken = {**connections["default"].settings_dict, "NAME": "no_such_database_here"}
    monkeypatch.setattr(connections["default"], "settings_dict", broken)
    with pytest.raises(CommandError, match="pg_dump failed"):
        call_command("backup")
    monkeypatch.undo()
    assert list(Path(backup_settings.BACKUP_DIR).iterdir()) == []  # no partial file left
    assert PortalBackup.objects.get().status == "failed"


@pytest.mark.django_db
def test_the_daily_task_backs_up_and_rotates(backup_settings, monkeypatch):
    days = iter(range(1, 7))  # each run asks the time twice: started and finished
    monkeypatch.setattr(
        backups.timezone, "now", lambda: datetime(2026, 3, next(days), 1, tzinfo=UTC)
    )
    for _ in range(3):
        portal_backup_task.delay().get()
    files = sorted(path.name for path in Path(backup_settings.BACKUP_DIR).iterdir())
    assert files == ["portal-20260303T010000Z.backup", "portal-20260305T010000Z.backup"]
    assert PortalBackup.objects.filter(status="succeeded").count() == 3


def test_the_task_runs_on_the_backups_queue_every_day_at_the_configured_hour():
    assert celery_app.amqp.router.route({}, "backups.portal_backup")["queue"].name == "backups"
    entry = settings.CELERY_BEAT_SCHEDULE["backups.portal_backup"]
    assert entry["task"] == portal_backup_task.name
    assert entry["schedule"].hour == {1}
    assert entry["schedule"].minute == {0}


@pytest.mark.django_db
def test_restore_refuses_a_backup_of_another_kind_of_database(backup_settings, tmp_path):
    other = "sqlite" if connections["default"].vendor == "postgresql" else "postgresql"
    path = tmp_path / "other.backup"
    path.write_bytes(_sealed(b"whatever", vendor=other))
    with pytest.raises(CommandError, match=f"a backup of a {other} database"):
        call_command("restore", str(path), "--no-input")


@pytest.mark.django_db
def test_restore_refuses_a_file_it_cannot_decrypt(backup_settings, tmp_path):
    path = tmp_path / "x.backup"
    path.write_bytes(_sealed(b"whatever", vendor=connections["default"].vendor))
    backup_settings.BACKUP_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="nothing was changed: The backup cannot be decrypted"):
        call_command("restore", str(path), "--no-input")


@pytest.mark.django_db
def test_restore_asks_first(backup_settings, tmp_path, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    path = tmp_path / "x.backup"
    path.write_bytes(b"not even read")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("restore", str(path))
    with pytest.raises(CommandError, match="No backup file"):
        call_command("restore", str(tmp_path / "missing.backup"), "--no-input")


# --- the proof: backup, drop, restore -----------------------------------------------------

# Customers, invoices (issued, paid) and credit ledger entries, written through the services.
DATA_SCRIPT = """
from decimal import Decimal
from djmoney.money import Money
from accounts.tests.factories import CustomerFactory
from credits.services import credit_entry_append
from billing import services as billing_services
from invoices import services as invoices
usd = lambda value: Money(Decimal(value), "USD")
for n in range({n}):
    customer = CustomerFactory(user__email=f"{tag}-{{n}}@example.com")
    credit_entry_append(customer=customer, amount=usd("25.50"), kind="admin_add",
                        idempotency_key=f"{tag}-add-{{n}}", reason="Goodwill")
    credit_entry_append(customer=customer, amount=usd("-5.25"), kind="admin_remove",
                        idempotency_key=f"{tag}-remove-{{n}}", reason="Correction")
    line = invoices.LineDraft(kind="manual", description="Work", unit_price=usd("40"))
    draft = invoices.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    issued = billing_services.invoice_issue(invoice_id=draft.pk)
    if n % 2:
        billing_services.invoice_mark_paid(invoice_id=issued.pk)
"""
LEDGER = (
    "SELECT md5(string_agg(concat_ws(',', id, account_id, sequence, kind, amount, "
    "balance_before, balance_after, idempotency_key, created_at), '|' ORDER BY id)) "
    "FROM credits_creditentry"
)


def _manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def _portal_env(database_url: str, backup_dir: Path) -> dict[str, str]:
    variables = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    return {
        **variables,
        "DATABASE_URL": database_url,
        "DEBUG": "true",
        "READ_DOT_ENV_FILE": "false",
        "BACKUP_DIR": str(backup_dir),
        "BACKUP_ENCRYPTION_KEY": KEY,
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }


def _fill(env: dict[str, str], *, tag: str, customers: int) -> None:
    _manage("shell", "-v", "0", "-c", DATA_SCRIPT.format(n=customers, tag=tag), env=env)


def _the_only_backup(directory: Path) -> Path:
    (path,) = directory.glob("portal-*.backup")
    return path


def _count(conn, table: str) -> int:
    # the name comes from the database's own catalogue, quoted
    return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608


class Scratch:
    """A PostgreSQL database of its own next to the test database, made and dropped with
    createdb and dropdb as an operator would."""

    def __init__(self) -> None:
        db = connections["default"].settings_dict
        self.name = f"{db['NAME']}_scratch_{uuid.uuid4().hex[:8]}"
        self.host, self.port, self.user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"]
        self.args = ["-h", self.host, "-p", str(self.port), "-U", self.user]

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{self.name}"

    def create(self) -> None:
        subprocess.run(["createdb", *self.args, self.name], check=True, timeout=60)

    def drop(self) -> None:
        subprocess.run(
            ["dropdb", *self.args, "--if-exists", "--force", self.name], check=True, timeout=60
        )

    def snapshot(self) -> dict[str, object]:
        """Every table's row count and the ledger's checksum."""
        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
                )
            ]
            counts = {t: _count(conn, t) for t in tables}
            ledger = conn.execute(LEDGER).fetchone()[0] if "credits_creditentry" in tables else None
            return {"counts": counts, "ledger": ledger}

    def ledger_refuses_changes(self) -> bool:
        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            try:
                conn.execute("UPDATE credits_creditentry SET description = 'changed'")
            except psycopg.errors.RestrictViolation:
                return True
        return False


@pytest.fixture
def scratch() -> Scratch:
    database = Scratch()
    database.create()
    yield database
    database.drop()


@pytest.mark.postgres
def test_postgresql_backup_drop_restore_gives_back_every_row(scratch, tmp_path):
    env = _portal_env(scratch.url, tmp_path)
    _manage("migrate", "--noinput", "-v", "0", env=env)
    _fill(env, tag="before", customers=4)
    before = scratch.snapshot()
    assert before["counts"]["credits_creditentry"] == 8
    assert before["counts"]["invoices_invoice"] == 4
    assert before["counts"]["accounts_customer"] == 4

    _manage("backup", env=env)
    path = _the_only_backup(tmp_path)

    # the database is lost: dropped, and created again empty
    scratch.drop()
    scratch.create()
    assert scratch.snapshot()["counts"] == {}
    _manage("restore", str(path), "--no-input", env=env)
    assert scratch.snapshot() == before
    assert scratch.ledger_refuses_changes()  # the append-only trigger came back too

    # over a database that moved on (entries the trigger keeps from being deleted): the
    # backup's state, exactly
    _fill(env, tag="after", customers=2)
    assert scratch.snapshot() != before
    _manage("restore", str(path), "--no-input", env=env)
    assert scratch.snapshot() == before
    assert scratch.ledger_refuses_changes()
    _manage("migrate", "--check", env=env)  # the schema is the code's


def _sqlite_snapshot(path: Path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        counts = {t: _count(conn, t) for t in tables}
        rows = conn.execute(
            "SELECT id, account_id, sequence, kind, amount, balance_before, balance_after, "
            "idempotency_key, created_at FROM credits_creditentry ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return {"counts": counts, "ledger": rows}


def test_sqlite_backup_delete_restore_gives_back_every_row(tmp_path):
    database = tmp_path / "portal.sqlite3"
    env = _portal_env(f"sqlite:///{database}", tmp_path / "backups")
    _manage("migrate", "--noinput", "-v", "0", env=env)
    _fill(env, tag="before", customers=3)
    before = _sqlite_snapshot(database)
    assert before["counts"]["credits_creditentry"] == 6

    _manage("backup", env=env)
    path = _the_only_backup(tmp_path / "backups")
    assert b"SQLite format 3" not in path.read_bytes()

    database.unlink()  # the database is lost
    _manage("restore", str(path), "--no-input", env=env)
    assert _sqlite_snapshot(database) == before

    _fill(env, tag="after", customers=2)
    _manage("restore", str(path), "--no-input", env=env)
    assert _sqlite_snapshot(database) == before
