"""The set-up contract: documented variables, compose services, make targets, CI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_SOURCE = (ROOT / "billing_portal" / "settings.py").read_text()
READ_VARIABLES = set(re.findall(r'env\.\w+\("([A-Z_]+)"', SETTINGS_SOURCE))
CONTRACT_VARIABLES = {
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "EMAIL_URL",
    "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "PAYPAL_CLIENT_ID",
    "PAYPAL_CLIENT_SECRET", "PAYPAL_WEBHOOK_ID", "PAYPAL_MODE",
}  # fmt: skip


def test_settings_read_every_contract_variable():
    assert CONTRACT_VARIABLES <= READ_VARIABLES


def test_every_variable_is_documented_in_env_example_with_a_comment():
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = {}
    for previous, line in zip(["", *lines], lines, strict=False):
        match = re.match(r"([A-Z_]+)=", line)
        if match:
            documented[match.group(1)] = previous.startswith("# ")
    assert set(documented) >= READ_VARIABLES
    assert all(documented.values()), [name for name, ok in documented.items() if not ok]


def test_every_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    in_table = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert in_table >= READ_VARIABLES


def test_compose_has_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    assert "gunicorn billing_portal.wsgi" in services["web"]["command"]
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    assert services["db"]["image"].startswith("postgres")
    assert services["redis"]["image"].startswith("redis")
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://")


def test_make_targets_and_ci_entry_point():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "worker"):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
    worker = makefile.split("\nworker:")[1].split("\n\n")[0]
    assert "--beat" in worker
    assert "default,panels,backups" in worker
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "make lint" in ci


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="only CI must use PostgreSQL + Redis")
def test_ci_runs_on_postgresql_and_redis():
    assert connection.vendor == "postgresql"
    assert settings.REDIS_URL.startswith("redis://")
