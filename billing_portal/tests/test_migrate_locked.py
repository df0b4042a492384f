"""`manage.py migrate_locked`, the compose `migrate` service's command: migrations are safe
when started twice at once (two deploys, or `--scale` of a service that migrates), because
each run waits for a PostgreSQL advisory lock before migrating."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def _server_url(database: str) -> str:
    db = connections["default"].settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgresql://{db['USER']}@{host}:{port}/{database}"


@pytest.fixture
def fresh_database() -> str:
    """An empty database of its own (created and dropped here); yields its URL."""
    name = f"bp_migrate_race_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _server_url(name).replace("postgresql://", "postgres://", 1)
    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_migrations_at_once_both_succeed_and_record_each_migration_once(fresh_database):
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database,
        "DEBUG": "true",
        "READ_DOT_ENV_FILE": "false",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "manage.py", "migrate_locked", "--noinput"]
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, **pipe) for _ in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # They did overlap: one of them waited for the other's lock.
    assert sum("waiting for it" in output for output in outputs) == 1, outputs
    url = fresh_database.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        duplicates = conn.execute(
            "SELECT app, name, count(*) FROM django_migrations GROUP BY app, name "
            "HAVING count(*) > 1"
        ).fetchall()
        applied = conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
        unapplied = subprocess.run(
            [sys.executable, "manage.py", "showmigrations", "--plan"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.count("[ ]")
    assert duplicates == []
    assert applied > 0
    assert unapplied == 0
