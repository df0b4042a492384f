"""Backups of the portal's own database: `manage.py backup` and the daily `backups.portal_backup`
task write one encrypted file to BACKUP_DIR and keep the BACKUP_KEEP newest; `manage.py
restore <file>` puts one back.

PostgreSQL is dumped with pg_dump (custom format, compressed), streamed through the
encryption into the file, and restored by streaming the decrypted file into pg_restore
--clean --if-exists, in one transaction: tables are dropped and recreated, never emptied
with DELETE, so the credit ledger's append-only trigger (which refuses UPDATE and DELETE)
does not stand in the way, and it is recreated with its table. SQLite is read as one
consistent snapshot of its pages (sqlite3's serialize, through the portal's own connection:
in memory, as SQLite is the embedded mode of small databases; the online backup API would
wait forever on that connection's own open write transaction), checked and written back
into the live database with the online backup API. No unencrypted copy is ever written to
disk.

The file is encrypted with Fernet (BACKUP_ENCRYPTION_KEY; several keys, newest first, while
rotating: the first encrypts, any decrypts). Fernet seals a message as a whole, so a dump is
cut into chunks of CHUNK_SIZE bytes, each its own token: memory stays at a few chunks
whatever the database's size. Each chunk's sealed text starts with its index and whether it
is the last, so chunks cannot be reordered, dropped or cut off without the restore noticing.

    file   = MAGIC, vendor, b"\\n", chunk*      chunk = length (4 bytes), token (raw bytes)
    token  = Fernet(index (8 bytes), final (1 byte), data)
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.utils import timezone

from billing_portal.common.models import PortalBackup

MAGIC = b"BILLING-PORTAL-BACKUP-1\n"
CHUNK_SIZE = 8 * 1024 * 1024
FILE_PATTERN = "portal-*.backup"
_LENGTH = struct.Struct(">I")
_CHUNK_HEADER = struct.Struct(">Q?")
VENDORS = ("postgresql", "sqlite")


class BackupError(Exception):
    """A backup could not be written or restored; the message says why."""


def backup_fernet() -> MultiFernet:
    keys = settings.BACKUP_ENCRYPTION_KEY
    if not keys:
        raise ImproperlyConfigured(
            "BACKUP_ENCRYPTION_KEY is not set: backups are always encrypted. Generate a key "
            "with python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "BACKUP_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes)."
        ) from error


# --- the encrypted file -------------------------------------------------------------------


def encrypt_stream(
    source: BinaryIO,
    target: BinaryIO,
    *,
    vendor: str,
    fernet: MultiFernet,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    target.write(MAGIC + vendor.encode() + b"\n")
    index, chunk = 0, source.read(chunk_size)
    while True:
        following = source.read(chunk_size) if chunk else b""
        final = not following
        token = base64.urlsafe_b64decode(fernet.encrypt(_CHUNK_HEADER.pack(index, final) + chunk))
        target.write(_LENGTH.pack(len(token)) + token)
        if final:
            return
        index, chunk = index + 1, following


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise BackupError("The backup file is cut off: it ends before its last part.")
    return data


def decrypt_stream(source: BinaryIO, target: BinaryIO, *, fernet: MultiFernet) -> str:
    """Write the decrypted dump to `target`; return the vendor it is a backup of."""
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("This is not a backup file of the portal.")
    vendor = source.readline(32).strip().decode(errors="replace")
    if vendor not in VENDORS:
        raise BackupError(f"The backup file names an unknown database ({vendor!r}).")
    expected = 0
    while True:
        (length,) = _LENGTH.unpack(_read_exactly(source, _LENGTH.size))
        token = _read_exactly(source, length)
        try:
            plain = fernet.decrypt(base64.urlsafe_b64encode(token))
        except InvalidToken as error:
            raise BackupError(
                "The backup cannot be decrypted: BACKUP_ENCRYPTION_KEY lacks the key it was "
                "written with, or the file is damaged."
            ) from error
        index, final = _CHUNK_HEADER.unpack_from(plain)
        if index != expected:
            raise BackupError("The backup file's parts are out of order.")
        target.write(plain[_CHUNK_HEADER.size :])
        if final:
            if source.read(1):
                raise BackupError("The backup file has data after its last part.")
            return vendor
        expected += 1


# --- PostgreSQL and SQLite ----------------------------------------------------------------


def _postgresql_env(database: dict) -> dict[str, str]:
    """libpq's variables for the database (the password never appears in a command line)."""
    variables = {
        "PGHOST": database.get("HOST") or "",
        "PGPORT": str(database.get("PORT") or ""),
        "PGUSER": database.get("USER") or "",
        "PGPASSWORD": database.get("PASSWORD") or "",
        "PGDATABASE": database["NAME"],
        "PGSSLMODE": database.get("OPTIONS", {}).get("sslmode", ""),
    }
    return {**os.environ, **{key: value for key, value in variables.items() if value}}


@contextlib.contextmanager
def _program(command: list[str], database: dict, **pipes: int) -> Iterator[subprocess.Popen]:
    """pg_dump or pg_restore running with a pipe to us; BackupError with its complaint when
    it fails (unless the body failed first)."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 (fixed programs, arguments we build)
            command, env=_postgresql_env(database), stderr=errors, **pipes
        )
        try:
            yield process
        finally:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(BrokenPipeError):  # it stopped reading
                        stream.close()
            returncode = process.wait()
        if returncode:
            errors.seek(0)
            detail = errors.read().decode(errors="replace").strip()[-2000:]
            raise BackupError(f"{command[0]} failed ({returncode}): {detail}")


def _dump_postgresql(output: BinaryIO, database: dict, fernet: MultiFernet) -> None:
    with _program(["pg_dump", "--format=custom"], database, stdout=subprocess.PIPE) as dump:
        encrypt_stream(dump.stdout, output, vendor="postgresql", fernet=fernet)


def _sqlite_connection() -> sqlite3.Connection:
    """The portal's own connection to its SQLite database (also an in-memory one)."""
    connection = connections["default"]
    connection.ensure_connection()
    return connection.connection


def _dump_sqlite(output: BinaryIO, database: dict, fernet: MultiFernet) -> None:
    # The database's pages as of one read transaction, in memory, so no unencrypted copy
    # touches the disk (SQLite is the embedded, small-database mode).
    data = _sqlite_connection().serialize()
    encrypt_stream(io.BytesIO(data), output, vendor="sqlite", fernet=fernet)


def _restore_postgresql(path: Path, database: dict, fernet: MultiFernet) -> None:
    command = [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--dbname",
        database["NAME"],
    ]
    # pg_restore stopping early closes the pipe; its exit status then says why
    with (
        _program(command, database, stdin=subprocess.PIPE) as restore,
        contextlib.suppress(BrokenPipeError),
        path.open("rb") as source,
    ):
        decrypt_stream(source, restore.stdin, fernet=fernet)


def _restore_sqlite(path: Path, database: dict, fernet: MultiFernet) -> None:
    buffer = io.BytesIO()
    with path.open("rb") as source:
        decrypt_stream(source, buffer, fernet=fernet)
    copy = sqlite3.connect(":memory:")
    try:
        copy.deserialize(buffer.getvalue())
        healthy = copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        healthy = False
    try:
        if not healthy:
            raise BackupError("The backup decrypted, but is not a sound SQLite database.")
        copy.backup(_sqlite_connection())
    finally:
        copy.close()


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


# --- backup and restore -------------------------------------------------------------------


def _vendor() -> str:
    vendor = connections["default"].vendor
    if vendor not in VENDORS:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    return vendor


def backups_rotate(*, directory: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest backup files (their names sort by time)."""
    files = sorted(directory.glob(FILE_PATTERN))
    old = files[:-keep] if keep > 0 else files
    for path in old:
        path.unlink()
    return old


def _write(target: Path, dump: Callable[[BinaryIO], None]) -> None:
    """Write `target` through `dump`, readable only by us, under a temporary name until it
    is complete."""
    partial = target.with_name(target.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as output:
            dump(output)
            output.flush()
            os.fsync(output.fileno())
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)


DUMPERS = {"postgresql": _dump_postgresql, "sqlite": _dump_sqlite}
RESTORERS = {"postgresql": _restore_postgresql, "sqlite": _restore_sqlite}


def backup_create() -> PortalBackup:
    """Back up the database to BACKUP_DIR, rotate, and record the run (also when it fails,
    then raising BackupError, ImproperlyConfigured or OSError)."""
    started = timezone.now()
    database = connections["default"].settings_dict
    directory = Path(settings.BACKUP_DIR)
    target = directory / f"portal-{started:%Y%m%dT%H%M%SZ}.backup"
    vendor = connections["default"].vendor
    try:
        vendor, fernet = _vendor(), backup_fernet()
        directory.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise BackupError(f"{target} exists already.")
        _write(target, lambda output: DUMPERS[vendor](output, database, fernet))
    except (BackupError, ImproperlyConfigured, OSError) as error:
        PortalBackup.objects.create(
            status=PortalBackup.Status.FAILED,
            database_vendor=vendor,
            started_at=started,
            finished_at=timezone.now(),
            error=str(error),
        )
        raise
    record = PortalBackup.objects.create(
        status=PortalBackup.Status.SUCCEEDED,
        file_name=target.name,
        database_vendor=vendor,
        size_bytes=target.stat().st_size,
        started_at=started,
        finished_at=timezone.now(),
    )
    backups_rotate(directory=directory, keep=settings.BACKUP_KEEP)
    return record


def backup_vendor(path: Path) -> str:
    """The database the backup in `path` is of, after checking that every part decrypts
    with BACKUP_ENCRYPTION_KEY and the file is whole."""
    with path.open("rb") as source:
        return decrypt_stream(source, _Discard(), fernet=backup_fernet())


def backup_restore(*, path: Path) -> str:
    """Replace the configured database's contents with the backup in `path`; returns its
    vendor. The whole file is checked before the database is touched, and a restore that
    fails part way changes nothing (one transaction; SQLite: copied only once sound)."""
    vendor, fernet = _vendor(), backup_fernet()
    kind = backup_vendor(path)
    if kind != vendor:
        raise BackupError(f"This is a backup of a {kind} database; the portal uses {vendor}.")
    database = connections["default"].settings_dict
    connections.close_all()  # our own connection must not hold a lock on a table
    RESTORERS[vendor](path, database, fernet)
    return vendor
