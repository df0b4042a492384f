"""The set-up contract: documented variables, make targets, CI (compose: test_compose.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# Variables read by the settings and by gunicorn's configuration (both through django-environ).
SOURCES = [(ROOT / name).read_text() for name in ("billing_portal/settings.py", "gunicorn.conf.py")]
READ_VARIABLES = {name for text in SOURCES for name in re.findall(r'env\.\w+\("([A-Z_]+)"', text)}
# Variables docker-compose.yml takes from the environment or the project's .env.
COMPOSE_VARIABLES = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
CONTRACT_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "EMAIL_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "PAYPAL_CLIENT_ID",
    "PAYPAL_CLIENT_SECRET",
    "PAYPAL_WEBHOOK_ID",
    "PAYPAL_MODE",
}


def test_settings_read_every_contract_variable():
    assert CONTRACT_VARIABLES <= READ_VARIABLES


ASSIGNMENT = re.compile(r"(# )?([A-Z][A-Z0-9_]*)=")


def _env_example() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def test_every_variable_is_documented_in_env_example_with_a_comment():
    # `NAME=value`, or `# NAME=value` (left at its default), under a line describing it.
    lines = _env_example()
    documented = {}
    for previous, line in zip(["", *lines], lines, strict=False):
        match = ASSIGNMENT.match(line)
        if match:
            described = previous.startswith("# ") and not ASSIGNMENT.match(previous)
            documented[match.group(2)] = described
    assert set(documented) >= READ_VARIABLES | COMPOSE_VARIABLES
    assert all(documented.values()), [name for name, ok in documented.items() if not ok]


def test_env_example_is_the_development_set_up_with_production_in_a_marked_section():
    lines = _env_example()
    production = next(i for i, line in enumerate(lines) if line.startswith("# --- Production"))
    active = [m.group(2) for line in lines if (m := ASSIGNMENT.match(line)) and not m.group(1)]
    assert "DEBUG=true" in lines[:production]
    # Copied as it is, nothing of the production section is set.
    assert not [line for line in lines[production:] if ASSIGNMENT.match(line) and line[0] != "#"]
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "PORTAL_DOMAIN"):
        assert name not in active, name
        assert any(line.startswith(f"# {name}=") for line in lines[production:]), name


def test_every_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    in_table = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert in_table >= READ_VARIABLES | COMPOSE_VARIABLES


def test_make_targets_and_ci_entry_point():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "worker", "beat"):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
        if target != "test":  # the development defaults of `make run` for each process
            assert f"\n{target}: export DEBUG ?= true\n" in makefile, target
    worker = makefile.split("\nworker: install")[1].split("\n\n")[0]
    assert "--beat" not in worker  # beat is a process of its own
    assert " -B" not in worker
    assert "--queues default,panels,backups" in worker
    beat = makefile.split("\nbeat: install")[1].split("\n\n")[0]
    assert "celery -A billing_portal beat" in beat
    assert "--schedule" not in beat  # RedBeat keeps the schedule in Redis
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "make lint" in ci


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="only CI must use PostgreSQL + Redis")
def test_ci_runs_on_postgresql_and_redis():
    assert connection.vendor == "postgresql"
    assert settings.REDIS_URL.startswith("redis://")
