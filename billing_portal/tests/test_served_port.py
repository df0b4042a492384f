"""Links outside a request (emails, seed_demo's output) use the port the portal really
serves on: `make run PORT=...` exports PORT, and PORTAL_BASE_URL follows it unless set."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from billing_portal.common.testing import free_port, stop_process_group

ROOT = Path(__file__).resolve().parents[2]


def _env(**variables: str) -> dict[str, str]:
    """The embedded default (SQLite, in-process tasks) in a child process."""
    drop = {
        "DATABASE_URL",
        "REDIS_URL",
        "PORTAL_BASE_URL",
        "PORT",
        "DJANGO_SETTINGS_MODULE",
        "CELERY_TASK_ALWAYS_EAGER",
        "MAKEFLAGS",
        "MFLAGS",
    }
    env = {key: value for key, value in os.environ.items() if key not in drop}
    return {**env, "READ_DOT_ENV_FILE": "false", "DEBUG": "true", **variables}


def _manage_shell(code: str, **variables: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


EMAIL = (
    "from billing_portal.common.emails import email_render; "
    "print(email_render(name='service_welcome', context={'customer_name': 'A', "
    "'service': 'S', 'panel_url': '', 'username': '', 'service_path': '/services/7/'})[1])"
)


def test_emails_link_to_the_port_in_PORT_unless_PORTAL_BASE_URL_is_set():
    assert "http://127.0.0.1:8123/services/7/" in _manage_shell(EMAIL, PORT="8123")
    assert "http://127.0.0.1:8000/services/7/" in _manage_shell(EMAIL)
    explicit = _manage_shell(EMAIL, PORT="8123", PORTAL_BASE_URL="https://portal.example.com/")
    assert "https://portal.example.com/services/7/" in explicit


def test_make_run_on_another_port_prints_links_to_the_port_it_serves(tmp_path):
    port = free_port()
    # The tests' own interpreter stands in for .venv (already installed: not remade).
    command = [
        "make",
        "--no-print-directory",
        "run",
        f"PORT={port}",
        f"BIN={Path(sys.executable).parent}",
        "-o",
        ".venv/.runtime-installed",
    ]
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"),
        )
    try:
        login = f"http://127.0.0.1:{port}/accounts/login/"
        assert _serves(login, process), log.read_text()
        printed = log.read_text()
        assert f"Demo logins ({login}, staff: http://127.0.0.1:{port}/admin/)" in printed
    finally:
        stop_process_group(process)


def _serves(url: str, process: subprocess.Popen, seconds: float = 240) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except requests.ConnectionError:
            time.sleep(0.5)
    return False
