"""Production settings behaviour, checked in fresh processes with production-like variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_SECRET = "x7Qe-0c9Jm2LrVt4nWb8kYs1pDz6hFa3gUo5iEq_ZwXyRbNcMvTl"


def _run(*args: str, **variables: str) -> subprocess.CompletedProcess:
    isolated = {
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "FIELD_ENCRYPTION_KEYS",
        "DJANGO_SETTINGS_MODULE",
        "REDIS_URL",
        "CELERY_TASK_ALWAYS_EAGER",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "CACHE_URL",
    }
    env = {key: value for key, value in os.environ.items() if key not in isolated}
    env.update({"READ_DOT_ENV_FILE": "false", **variables})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _production(**extra: str) -> dict[str, str]:
    return {
        "SECRET_KEY": PRODUCTION_SECRET,
        "ALLOWED_HOSTS": "portal.example.com",
        "FIELD_ENCRYPTION_KEYS": "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc=",
        **extra,
    }


def test_check_deploy_is_clean_with_production_variables():
    result = _run("check", "--deploy", "--fail-level", "WARNING", **_production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS"])
def test_refuses_to_start_without_a_required_secret(missing):
    variables = _production()
    del variables[missing]
    result = _run("check", **variables)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


def test_schema_commands_run_without_production_secrets():
    result = _run("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_debug_is_off_unless_set():
    script = "from django.conf import settings; print(settings.DEBUG)"
    result = _run("shell", "-v", "0", "-c", script, **_production())
    assert result.stdout.strip() == "False"


def test_production_cookies_and_headers():
    script = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_NAME, "
        "s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY)"
    )
    result = _run("shell", "-v", "0", "-c", script, **_production())
    assert result.stdout.split() == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "True",
        "31536000",
        "DENY",
        "same-origin",
    ]


def test_services_own_their_transactions():
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is False


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        ("", "True memory://localhost/ LocMemCache"),
        ("redis://127.0.0.1:6379/5", "False redis://127.0.0.1:6379/5 RedisCache"),
    ],
)
def test_redis_url_switches_tasks_to_the_broker(redis_url, expected):
    script = (
        "from django.conf import settings as s; print(s.CELERY_TASK_ALWAYS_EAGER, "
        "s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND'].rsplit('.', 1)[1])"
    )
    variables = _production(REDIS_URL=redis_url)
    result = _run("shell", "-v", "0", "-c", script, **variables)
    assert result.stdout.strip() == expected, result.stderr


def test_migrations_do_not_depend_on_the_currency_settings():
    result = _run(
        "makemigrations",
        "--check",
        "--dry-run",
        DEBUG="true",
        CURRENCIES="CAD,JPY",
        DEFAULT_CURRENCY="CAD",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_throttle_rate_that_is_not_a_rate_refuses_to_start():
    result = _run("check", **_production(THROTTLE_LOGIN_PER_IP="lots"))
    assert result.returncode != 0
    assert "THROTTLE_LOGIN_PER_IP must be a rate like 5/h or 30/10m, not 'lots'" in result.stderr


def test_broker_results_and_cache_can_each_have_a_redis_of_their_own():
    # Production (docker-compose.yml) keeps the cache apart, so that its eviction policy
    # never touches the broker's queued tasks.
    script = (
        "from django.conf import settings as s; print(s.CELERY_TASK_ALWAYS_EAGER, "
        "s.CELERY_BROKER_URL, s.CELERY_RESULT_BACKEND, s.CACHES['default']['LOCATION'])"
    )
    variables = _production(
        CELERY_BROKER_URL="redis://broker:6379/0",
        CELERY_RESULT_BACKEND="redis://broker:6379/1",
        CACHE_URL="redis://cache:6379/0",
    )
    result = _run("shell", "-v", "0", "-c", script, **variables)
    assert result.stdout.split() == [
        "False",
        "redis://broker:6379/0",
        "redis://broker:6379/1",
        "redis://cache:6379/0",
    ], result.stderr


def test_seller_address_lines_written_with_backslash_n_are_lines():
    # As in .env.example and compose files, where a value cannot hold a line break.
    script = "from django.conf import settings; print(repr(settings.SELLER_DETAILS['address']))"
    variables = _production(SELLER_ADDRESS="1 Example Street\\nLondon EC1A 1AA")
    result = _run("shell", "-v", "0", "-c", script, **variables)
    assert result.stdout.strip() == repr("1 Example Street\nLondon EC1A 1AA"), result.stderr


@pytest.mark.parametrize(
    "variable",
    ["WEBHOOK_RETENTION_DAYS", "OPERATION_LOG_RETENTION_DAYS", "LOGIN_LOG_RETENTION_DAYS"],
)
def test_a_retention_period_under_a_day_is_refused(variable):
    result = _run("check", **_production(**{variable: "0"}))
    assert result.returncode != 0
    assert "at least 1 day" in result.stderr
