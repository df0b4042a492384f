"""Settings for the billing portal, read only from environment variables.

One module for every environment (see DESIGN.md): the environment decides. Every variable
read here is listed with a comment in `.env.example` and in the README table.

Embedded default (no DATABASE_URL, no REDIS_URL): SQLite and Celery tasks run in-process.
Production (DEBUG off): refuses to start without SECRET_KEY and ALLOWED_HOSTS, and turns on
HTTPS-only cookies, HSTS and SSL redirect so `check --deploy --fail-level WARNING` passes.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local `.env` is a convenience for `make run`; variables already in the environment win.
if env.bool("READ_DOT_ENV_FILE", default=True) and (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# Commands that only read model definitions sign nothing and serve nothing, so they run
# without production secrets (a fresh clone can check its migrations as it is).
SCHEMA_ONLY_COMMAND = len(sys.argv) > 1 and sys.argv[1] in {
    "makemigrations",
    "showmigrations",
    "sqlmigrate",
}

# --- Secrets and hosts -------------------------------------------------------------------

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or SCHEMA_ONLY_COMMAND):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the portal refuses to start without it. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # A development default only: with DEBUG off the check above refuses to start.
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105
# Old keys still accepted for signatures (sessions, reset links) while rotating SECRET_KEY.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# Fernet keys for secrets the portal stores (panel credentials, service passwords), newest
# first: every key decrypts, the first encrypts; `manage.py rotate_keys` re-encrypts every row
# with the first. Generate one with:
# python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not (DEBUG or SCHEMA_ONLY_COMMAND):
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. With DEBUG off the portal refuses to start "
            "without it: it encrypts the panel credentials the portal stores."
        )
    FIELD_ENCRYPTION_KEYS = ["ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE="]  # dev only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not (DEBUG or SCHEMA_ONLY_COMMAND):
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set. With DEBUG off the portal refuses to start without it. "
            "Set it to the portal's host names, comma separated, e.g. portal.example.com"
        )
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Absolute base URL for links in emails sent outside a request (billing run, workers).
# Unset, it follows PORT, the port `make run` serves on (and exports).
PORT = env.int("PORT", default=8000)
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")
PORTAL_NAME = env.str("PORTAL_NAME", default="Billing Portal")

# --- Applications -------------------------------------------------------------------------

INSTALLED_APPS = [
    "reports.apps.PortalAdminConfig",  # django.contrib.admin, opening on the dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Third party
    "axes",
    "bootstrap",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_countries",
    "django_htmx",
    "django_prometheus",
    "djmoney",
    "django_filters",
    "drf_spectacular",
    "drf_standardized_errors",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "rest_framework",
    # Second factor: TOTP devices and single-use recovery codes (accounts owns the flows).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Staff acting as a customer ("log in as"); accounts/acting.py holds the rules.
    "hijack",
    # Ours
    "billing_portal.common",
    "accounts",
    "catalogue",
    "invoices",
    "payments",
    "credits",
    "provisioning",
    "dnszones",
    "support",
    "billing",
    "reports",
]

MIDDLEWARE = [
    # First, so every log line of the request, even the other middlewares', carries its id.
    "billing_portal.common.middleware.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything that answers for a signed-in user: a session idle too long or past
    # its lifetime is logged out first; its last-seen time is written after the view.
    "accounts.middleware.SessionActivityMiddleware",
    # After authentication: marks the session's user verified by a second factor, then
    # sends staff (and customers, where required) without one to the code or enrolment page.
    "django_otp.middleware.OTPMiddleware",
    # Marks a session where staff act as a customer (`request.user.is_hijacked`).
    "hijack.middleware.HijackUserMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "billing_portal.common.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "billing_portal.common.middleware.DatabaseConflictMiddleware",
    # Outside Axes, so its lockout answers are counted too.
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Axes must be last: it turns lockouts raised by its backend into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "billing_portal.urls"
WSGI_APPLICATION = "billing_portal.wsgi.application"
ASGI_APPLICATION = "billing_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "billing_portal.common.context_processors.portal",
                "accounts.context_processors.acting",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Services own their transactions (DESIGN.md); a request-wide transaction would also roll
# back the rows webhooks and failed calls must keep.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Row locks check the portal's lock order (billing_portal/common/locks.py) as they are taken,
# raising LockOrderViolation when it is broken: in development and in the tests (conftest).
LOCK_ORDER_CHECKS = env.bool("LOCK_ORDER_CHECKS", default=DEBUG)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ---------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
# Broker, results and cache each default to REDIS_URL. Production gives them Redis of their
# own (docker-compose.yml): an eviction policy is per Redis server, so the cache's may evict
# only cache keys, while the broker's Redis runs `noeviction` and never drops a queued task.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL) or "memory://localhost/"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL) or None
CACHE_URL = env.str("CACHE_URL", default=REDIS_URL)

if CACHE_URL:
    # Nothing the portal caches is needed to serve a page (tokens and balances are fetched
    # again, alerts throttled less): with the cache's Redis unreachable, reads miss and
    # writes are dropped after a one-second try, logged, instead of failing the request.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "billing_portal",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker the portal is self-contained: tasks run in the calling process.
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory://")
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TIMEZONE = "UTC"
# A task is acknowledged only after it ran, and requeued if its worker dies mid-way; every
# task is written to be safe to run twice (operations are keyed, services are idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that is down must not hold up a request (issue 12: 19 s per queued task, two of
# them per order). No code reads task results, so none are kept and publishing never
# touches the result backend; connecting for a publish is one try with a one-second
# timeout, and publishing from a request is one attempt (`retry=False`); elsewhere a
# publish is tried three times within half a second. What matters goes through the outbox
# (billing_portal/common/outbox.py), which publishes again when the broker is back.
# Workers keep reconnecting on their own (broker_connection_max_retries).
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 5,  # a broker gone without closing the connection
    "max_retries": 0,  # connecting for a publish: once (kombu's default is without end)
}
# kombu's Redis transport with one client per channel instead of one per message
# (billing_portal/common/broker.py); other brokers (memory:// in-process) keep their own.
CELERY_BROKER_TRANSPORT = (
    "billing_portal.common.broker:Transport" if CELERY_BROKER_URL.startswith("redis://") else None
)
# Separate queues so slow backups never starve panel calls, and neither starves email.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("panels"), Queue("backups"))
CELERY_TASK_ROUTES = {
    "provisioning.*": {"queue": "panels"},
    "provisioning.staff_alert": {"queue": "default"},
    "dns.*": {"queue": "panels"},
    "credits.token_purchase_deliver": {"queue": "panels"},
    # Housekeeping touches only the database.
    "provisioning.operation_logs_prune": {"queue": "default"},
    "dns.operations_prune": {"queue": "default"},
    "backups.*": {"queue": "backups"},
    # Outbound webhooks wait on other people's servers, as panel calls do.
    "common.webhook_deliver": {"queue": "panels"},
}
# Beat is a singleton: RedBeat keeps the schedule (with each entry's last run) in the broker's
# Redis, so it survives redeploys, and sends only while holding a lock there; a second beat
# waits for the lock. The lock expires 5 ticks (150 s) after a beat that was killed.
CELERY_BEAT_SCHEDULER = "redbeat.RedBeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 30
# Daily clean-up, also run by `manage.py housekeeping`.
HOUSEKEEPING_TASKS = (
    "accounts.sessions_clear_expired",
    "accounts.data_exports_prune",
    "accounts.login_logs_prune",
    "accounts.idempotency_keys_prune",
    "payments.webhook_payloads_prune",
    "provisioning.operation_logs_prune",
    "dns.operations_prune",
    "common.outbox_prune",
    "common.webhook_deliveries_prune",
    "reports.report_exports_prune",
)
# The schedule lives in code so it is reviewed with the tasks it runs.
CELERY_BEAT_SCHEDULE = {
    "billing.billing_run": {
        "task": "billing.billing_run",
        "schedule": crontab(hour=env.int("BILLING_RUN_HOUR_UTC", default=2), minute=0),
    },
    # Before the billing run (issue 20): a card try due on the day a service would be
    # suspended is made first, so a renewal paid by it keeps the service running. The run
    # issues renewals days ahead, so none it issues is due before the next day's charges.
    "payments.charge_due_renewals": {
        "task": "payments.charge_due_renewals",
        "schedule": crontab(hour=(env.int("BILLING_RUN_HOUR_UTC", default=2) - 1) % 24, minute=45),
    },
    "credits.reconcile": {
        "task": "credits.reconcile",
        "schedule": crontab(hour=env.int("BILLING_RUN_HOUR_UTC", default=2), minute=45),
    },
    "payments.reconcile": {
        "task": "payments.reconcile",
        "schedule": crontab(hour=env.int("BILLING_RUN_HOUR_UTC", default=2), minute=30),
    },
    "payments.webhook_events_sweep": {
        "task": "payments.webhook_events_sweep",
        "schedule": timedelta(minutes=5),
    },
    "credits.token_purchases_sweep": {
        "task": "credits.token_purchases_sweep",
        "schedule": timedelta(minutes=5),
    },
    "provisioning.operations_sweep": {
        "task": "provisioning.operations_sweep",
        "schedule": timedelta(minutes=2),
    },
    "provisioning.servers_check": {
        "task": "provisioning.servers_check",
        "schedule": timedelta(minutes=5),
    },
    "dns.operations_sweep": {
        "task": "dns.operations_sweep",
        "schedule": timedelta(minutes=2),
    },
    "dns.reconcile": {
        "task": "dns.reconcile",
        "schedule": crontab(hour=env.int("BILLING_RUN_HOUR_UTC", default=2), minute=50),
    },
    "common.outbox_relay": {
        "task": "common.outbox_relay",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 30},  # relays queued while workers are away are not all run
    },
    # Housekeeping; audit events and the credit ledger are kept forever.
    **{name: {"task": name, "schedule": crontab(hour=4, minute=0)} for name in HOUSEKEEPING_TASKS},
}
# Outbound webhooks (billing_portal/common/webhooks.py): deliveries whose message was lost
# are queued again. http:// and loopback or private addresses as endpoint URLs are refused
# unless allowed (development, and the tests' loopback receiver).
CELERY_BEAT_SCHEDULE["common.webhooks_sweep"] = {
    "task": "common.webhooks_sweep",
    "schedule": timedelta(minutes=2),
}
WEBHOOK_ALLOW_INSECURE_URLS = env.bool("WEBHOOK_ALLOW_INSECURE_URLS", default=DEBUG)
# Retention in days: handled webhook deliveries keep their row (it stops a redelivery being
# run twice) but lose their body and headers; finished panel operations lose their request
# and response summaries, succeeded DNS pushes are deleted; login logs are deleted.
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=90)
OPERATION_LOG_RETENTION_DAYS = env.int("OPERATION_LOG_RETENTION_DAYS", default=90)
# Self-service (provisioning.services.actions): how long a panel's live answer (status,
# statistics, lists) is reused, and how many actions a customer may start on one service.
LIVE_READ_CACHE_SECONDS = env.int("LIVE_READ_CACHE_SECONDS", default=20)
SERVICE_ACTION_RATE = env.str("SERVICE_ACTION_RATE", default="10/m")
LOGIN_LOG_RETENTION_DAYS = env.int("LOGIN_LOG_RETENTION_DAYS", default=90)
# Sent outbox messages whose work is done are deleted after this many days.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
RETENTION_DAYS = (
    WEBHOOK_RETENTION_DAYS,
    OPERATION_LOG_RETENTION_DAYS,
    LOGIN_LOG_RETENTION_DAYS,
    OUTBOX_RETENTION_DAYS,
)
if min(RETENTION_DAYS) < 1:
    raise ImproperlyConfigured("Retention periods (*_RETENTION_DAYS) are at least 1 day.")

# --- Backups of the portal itself --------------------------------------------------------

# Where `manage.py backup` and its daily task write; the BACKUP_KEEP newest files are kept.
BACKUP_DIR = env.str("BACKUP_DIR", default=str(BASE_DIR / "backups"))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)
if BACKUP_KEEP < 1:
    raise ImproperlyConfigured("BACKUP_KEEP must be at least 1.")
# Fernet key(s) encrypting backups, newest first: the first encrypts, every one decrypts.
BACKUP_ENCRYPTION_KEY = env.list("BACKUP_ENCRYPTION_KEY", default=[])
CELERY_BEAT_SCHEDULE["backups.portal_backup"] = {
    "task": "backups.portal_backup",
    "schedule": crontab(hour=env.int("BACKUP_HOUR_UTC", default=1), minute=0),
}

# --- Automatic backups of customers' services (provisioning.services.backups) ---------------

# Beat looks for due services this often (a day's slot starts at 00:00 UTC); each backup is
# an operation of the kernel (billing_portal/common/operations.py), one task on the `backups`
# queue, and these are its numbers. Temporary failures are tried again (backoff from
# AUTO_BACKUP_RETRY_MINUTES) up to AUTO_BACKUP_MAX_ATTEMPTS times, then staff are told.
AUTO_BACKUP_SWEEP_MINUTES = env.int("AUTO_BACKUP_SWEEP_MINUTES", default=10)
AUTO_BACKUP_BATCH_SIZE = env.int("AUTO_BACKUP_BATCH_SIZE", default=500)
AUTO_BACKUP_MAX_ATTEMPTS = env.int("AUTO_BACKUP_MAX_ATTEMPTS", default=4)
AUTO_BACKUP_RETRY_MINUTES = env.int("AUTO_BACKUP_RETRY_MINUTES", default=10)
# A queued backup not started within the lease is queued again (its message was lost); one
# running longer than the timeout (its worker died; above the task time limit) too.
AUTO_BACKUP_LEASE_MINUTES = env.int("AUTO_BACKUP_LEASE_MINUTES", default=60)
AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES = env.int("AUTO_BACKUP_RUNNING_TIMEOUT_MINUTES", default=30)
# Backups a service keeps when neither its site plan nor its product says.
AUTO_BACKUP_DEFAULT_KEEP = env.int("AUTO_BACKUP_DEFAULT_KEEP", default=7)
CELERY_BEAT_SCHEDULE["backups.due_run"] = {
    "task": "backups.due_run",
    "schedule": timedelta(minutes=AUTO_BACKUP_SWEEP_MINUTES),
    "options": {"expires": AUTO_BACKUP_SWEEP_MINUTES * 60},  # one sweep finds them all
}

# --- Support desk (support/) -------------------------------------------------------------

# Ticket attachments are kept here, outside the web root (nothing serves this directory:
# the portal hands a file only to the ticket's customer and staff, as a download).
SUPPORT_ATTACHMENTS_ROOT = Path(
    env.str("SUPPORT_ATTACHMENTS_ROOT", default=str(BASE_DIR / "private"))
)
SUPPORT_ATTACHMENT_MAX_BYTES = env.int("SUPPORT_ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
SUPPORT_ATTACHMENT_MAX_COUNT = env.int("SUPPORT_ATTACHMENT_MAX_COUNT", default=5)
# Hours staff have to answer a ticket of a customer without a support subscription (a
# subscription's plan sets its own in the product's module settings).
SUPPORT_DEFAULT_RESPONSE_HOURS = env.int("SUPPORT_DEFAULT_RESPONSE_HOURS", default=24)
# A ticket awaiting the customer this many days is closed; a notice goes out
# SUPPORT_CLOSE_NOTICE_DAYS before.
SUPPORT_AUTO_CLOSE_DAYS = env.int("SUPPORT_AUTO_CLOSE_DAYS", default=7)
SUPPORT_CLOSE_NOTICE_DAYS = env.int("SUPPORT_CLOSE_NOTICE_DAYS", default=2)
# The address customers reply to (support+<signed ticket token>@domain) when inbound mail
# is piped to `manage.py support_inbound`; empty: emails carry no reply address.
SUPPORT_INBOUND_ADDRESS = env.str("SUPPORT_INBOUND_ADDRESS", default="")
SUPPORT_SWEEP_MINUTES = 15
CELERY_BEAT_SCHEDULE["support.tickets_sweep"] = {
    "task": "support.tickets_sweep",
    "schedule": timedelta(minutes=SUPPORT_SWEEP_MINUTES),
    "options": {"expires": SUPPORT_SWEEP_MINUTES * 60},
}
# Announcements reaching their publish date with an email: queued within the sweep's period.
CELERY_BEAT_SCHEDULE["support.announcements_sweep"] = {
    "task": "support.announcements_sweep",
    "schedule": timedelta(minutes=SUPPORT_SWEEP_MINUTES),
    "options": {"expires": SUPPORT_SWEEP_MINUTES * 60},
}

# --- Email --------------------------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ADMINS = [("Staff", addr) for addr in env.list("STAFF_EMAILS", default=[])]
EMAIL_TIMEOUT = 30

# --- Authentication -----------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out credentials before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling: 5 failures for one username from one IP lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A fixed cool-off: attempts while locked do not extend it, so "try again in 15 minutes"
# stays true for a customer who keeps trying.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "billing_portal.common.request.client_ip"
AXES_USERNAME_CALLABLE = "accounts.services.login_username_normalize"
# Both login forms (client area and admin) post the email in a field named "username".
AXES_USERNAME_FORM_FIELD = "username"
# Number of reverse proxies in front of the portal: the client is the N-th address from the
# right of X-Forwarded-For (billing_portal.common.request.client_ip); 0 means REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Second factor (accounts/second_factor.py): staff always need one; this requires it of
# customers as well (they are sent to enrolment after their password).
OTP_REQUIRED_FOR_CUSTOMERS = env.bool("OTP_REQUIRED_FOR_CUSTOMERS", default=False)
# Disabling the second factor or changing the email asks for the password and a current
# code again unless both were given this many seconds ago or less.
SECOND_FACTOR_REAUTH_SECONDS = env.int("SECOND_FACTOR_REAUTH_SECONDS", default=300)
# A password accepted at login waits this long for its second factor.
SECOND_FACTOR_PENDING_SECONDS = env.int("SECOND_FACTOR_PENDING_SECONDS", default=300)
# The name authenticator apps show next to the code.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default=PORTAL_NAME)
# Passkeys (WebAuthn): the relying party id (a domain, never an IP address) and the origins
# the browser may report; empty means the host and origin of the request (its Host header
# is checked against ALLOWED_HOSTS first).
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default="")
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=[])

# Acting as a customer (django-hijack): who may act as whom (staff with the permission, never
# as staff), and no injected notice: the client area's layout shows its own banner.
HIJACK_PERMISSION_CHECK = "accounts.acting.may_act_as"
HIJACK_INSERT_BEFORE = None

# Throttles on the forms that send email or check a password (billing_portal/common/
# throttle.py): per submitted address and per client IP, as django-ratelimit rates
# "count/period" with period s, m, h or d, optionally multiplied ("30/10m").
THROTTLE_RATES = {
    "login": {
        "address": env.str("THROTTLE_LOGIN_PER_ADDRESS", default="100/h"),
        "ip": env.str("THROTTLE_LOGIN_PER_IP", default="30/10m"),
    },
    "password_reset": {
        "address": env.str("THROTTLE_PASSWORD_RESET_PER_ADDRESS", default="3/h"),
        "ip": env.str("THROTTLE_PASSWORD_RESET_PER_IP", default="20/h"),
    },
    "verification_resend": {
        "address": env.str("THROTTLE_VERIFICATION_RESEND_PER_ADDRESS", default="3/h"),
        "ip": env.str("THROTTLE_VERIFICATION_RESEND_PER_IP", default="20/h"),
    },
    "register": {
        "address": env.str("THROTTLE_REGISTER_PER_ADDRESS", default="3/h"),
        "ip": env.str("THROTTLE_REGISTER_PER_IP", default="10/h"),
    },
}
for _form, _rates in THROTTLE_RATES.items():
    for _per, _rate in _rates.items():
        if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", _rate):
            raise ImproperlyConfigured(
                f"THROTTLE_{_form.upper()}_PER_{_per.upper()} must be a rate like 5/h or "
                f"30/10m, not {_rate!r}."
            )
# The counters live in the default cache (Redis when REDIS_URL is set; per process without
# it). Counted per client_ip; a cache that cannot count lets requests through. The
# django_ratelimit app is not installed: it only adds a system check that calls the embedded
# default's locmem cache an error and Django's own (atomic) Redis cache unsupported.
RATELIMIT_IP_META_KEY = "billing_portal.common.throttle.throttle_ip"
RATELIMIT_FAIL_OPEN = True

# --- Security -----------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if TRUSTED_PROXY_COUNT or env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles only from our own static files, no
# inline code anywhere (client area, admin, API docs), no plugins, no framing.
# form-action also covers the redirects that follow a form's POST (Chromium, Firefox), so it
# lists where the payment forms send the customer: Stripe Checkout, Stripe's 3-D Secure page
# and PayPal's approval pages. The service page adds its own panel's origin for "Open control
# panel" (billing.views.provisioning.ServiceDetailView).
PAYMENT_FORM_TARGETS = [
    "https://checkout.stripe.com",
    "https://hooks.stripe.com",
    "https://www.paypal.com",
    "https://www.sandbox.paypal.com",
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, *PAYMENT_FORM_TARGETS],
    },
}
# Browser features the portal never uses, refused to it and anything it embeds.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
    )
}

SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
if SECURE_COOKIES:
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only
    # and for path "/", so a sibling subdomain cannot plant or overwrite it.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
# Sessions live in the database: the sessions page lists them and ends them there.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# A signed-in customer session unused this many seconds ends (accounts/user_sessions.py).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=12 * 3600)
# A signed-in customer session ends this many seconds after its login, however it is used.
SESSION_LIFETIME_SECONDS = env.int("SESSION_LIFETIME_SECONDS", default=14 * 24 * 3600)
# The same two for staff, who can move money: shorter.
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=30 * 60)
# A staff session ends this many seconds after its login.
STAFF_SESSION_LIFETIME_SECONDS = env.int("STAFF_SESSION_LIFETIME_SECONDS", default=12 * 3600)
# The link emailed to a new address to confirm an email change is valid this long.
EMAIL_CHANGE_LINK_SECONDS = env.int("EMAIL_CHANGE_LINK_SECONDS", default=24 * 3600)
for _idle, _lifetime in (
    ("SESSION_IDLE_SECONDS", "SESSION_LIFETIME_SECONDS"),
    ("STAFF_SESSION_IDLE_SECONDS", "STAFF_SESSION_LIFETIME_SECONDS"),
):
    if not 60 <= globals()[_idle] <= globals()[_lifetime]:
        raise ImproperlyConfigured(f"{_idle} must be at least 60 and at most {_lifetime}.")

# --- Internationalisation and money -------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

CURRENCIES = tuple(env.list("CURRENCIES", default=["USD", "EUR", "GBP"]))
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="USD")
if DEFAULT_CURRENCY not in CURRENCIES:
    raise ImproperlyConfigured(f"DEFAULT_CURRENCY {DEFAULT_CURRENCY} is not in CURRENCIES.")

# --- Seller, tax and invoices ------------------------------------------------------------

# Frozen onto every invoice when it is issued.
SELLER_DETAILS = {
    "name": env.str("SELLER_NAME", default="Example Hosting Ltd"),
    # One line in .env: "\n" written between the address lines is a line break.
    "address": env.str("SELLER_ADDRESS", multiline=True, default="1 Example St\nLondon EC1A 1AA"),
    "country": env.str("SELLER_COUNTRY", default="GB"),
    "tax_id": env.str("SELLER_TAX_ID", default=""),
    "email": env.str("SELLER_EMAIL", default="billing@example.com"),
}
# Whether catalogue prices already include tax (then tax is the part of the price it is).
TAX_PRICES_INCLUDE_TAX = env.bool("TAX_PRICES_INCLUDE_TAX", default=False)
INVOICE_NUMBER_FORMAT = env.str("INVOICE_NUMBER_FORMAT", default="INV-{year}-{number:05}")
CREDIT_NOTE_NUMBER_FORMAT = env.str("CREDIT_NOTE_NUMBER_FORMAT", default="CN-{year}-{number:05}")

# --- The daily billing run ---------------------------------------------------------------

BILLING_RENEWAL_DAYS_AHEAD = env.int("BILLING_RENEWAL_DAYS_AHEAD", default=7)
BILLING_COMBINE_RENEWALS = env.bool("BILLING_COMBINE_RENEWALS", default=False)
# Renewals are issued in chunks of about this many services, one transaction (and, on
# Celery, one task) each; reminders in batches of this many invoices.
BILLING_RUN_CHUNK_SIZE = env.int("BILLING_RUN_CHUNK_SIZE", default=500)
BILLING_REMINDER_DAYS_BEFORE = env.int("BILLING_REMINDER_DAYS_BEFORE", default=3)
BILLING_OVERDUE_REMINDER_DAYS = env.list(
    "BILLING_OVERDUE_REMINDER_DAYS", cast=int, default=[1, 3, 7]
)
if len(BILLING_OVERDUE_REMINDER_DAYS) != 3:
    raise ImproperlyConfigured("BILLING_OVERDUE_REMINDER_DAYS takes three day counts, e.g. 1,3,7.")
BILLING_LATE_FEE_AFTER_DAYS = env.int("BILLING_LATE_FEE_AFTER_DAYS", default=0)  # 0: off
BILLING_LATE_FEE_PERCENT = Decimal(env.str("BILLING_LATE_FEE_PERCENT", default="10"))
BILLING_SUSPEND_AFTER_DAYS = env.int("BILLING_SUSPEND_AFTER_DAYS", default=3)
BILLING_TERMINATE_AFTER_DAYS = env.int("BILLING_TERMINATE_AFTER_DAYS", default=30)
BILLING_CANCEL_UNPAID_ORDERS_AFTER_DAYS = env.int(
    "BILLING_CANCEL_UNPAID_ORDERS_AFTER_DAYS", default=7
)
BILLING_UPGRADE_INVOICE_EXPIRY_DAYS = env.int("BILLING_UPGRADE_INVOICE_EXPIRY_DAYS", default=3)

# --- Account credit ----------------------------------------------------------------------

# Pay renewal invoices from available account credit when they are issued (customers can
# opt out in their profile).
CREDITS_AUTO_APPLY = env.bool("CREDITS_AUTO_APPLY", default=True)
# What customers may buy at once, in their currency (credit) or the token currency (tokens).
CREDITS_PURCHASE_MIN = Decimal(env.str("CREDITS_PURCHASE_MIN", default="1"))
CREDITS_PURCHASE_MAX = Decimal(env.str("CREDITS_PURCHASE_MAX", default="1000"))
CREDITS_PURCHASE_PRESETS = tuple(
    Decimal(value)
    for value in env.list("CREDITS_PURCHASE_PRESETS", default=["5", "10", "25", "50"])
)
if not 0 < CREDITS_PURCHASE_MIN <= CREDITS_PURCHASE_MAX:
    raise ImproperlyConfigured("CREDITS_PURCHASE_MIN must be above 0 and at most the maximum.")

# --- VirtFusion (VPS panel; holds the customers' VPS tokens) -----------------------------

VIRTFUSION_URL = env.str("VIRTFUSION_URL", default="")  # https://cp.example.com (no /api/v1)
VIRTFUSION_API_TOKEN = env.str("VIRTFUSION_API_TOKEN", default="")
# VirtFusion's own token value: how many tokens one unit of VIRTFUSION_TOKEN_CURRENCY buys.
VIRTFUSION_TOKENS_PER_UNIT = Decimal(env.str("VIRTFUSION_TOKENS_PER_UNIT", default="100"))
VIRTFUSION_TOKEN_CURRENCY = env.str("VIRTFUSION_TOKEN_CURRENCY", default="USD")
VIRTFUSION_BALANCE_CACHE_SECONDS = env.int("VIRTFUSION_BALANCE_CACHE_SECONDS", default=60)

# --- Provisioning modules of other apps -------------------------------------------------

# Dotted paths of Python modules that describe a provisioning module (see
# provisioning/panels/registry.py), loaded when the apps are ready: the `dns` module, whose
# "panel" is the zone service, lives in dnszones so provisioning never imports it.
PROVISIONING_MODULES = env.list("PROVISIONING_MODULES", default=["dnszones.module"])

# --- DNS (customer zones) ----------------------------------------------------------------

# Where zones are served: "local" (kept in the portal only, for `make run`), "powerdns" or
# "ispconfig".
DNS_BACKEND = env.str("DNS_BACKEND", default="local")
if DNS_BACKEND not in ("local", "powerdns", "ispconfig"):
    raise ImproperlyConfigured(
        f"DNS_BACKEND must be local, powerdns or ispconfig, not {DNS_BACKEND!r}."
    )
DNS_POWERDNS_URL = env.str("DNS_POWERDNS_URL", default="http://127.0.0.1:8081")
DNS_POWERDNS_API_KEY = env.str("DNS_POWERDNS_API_KEY", default="")
DNS_POWERDNS_SERVER_ID = env.str("DNS_POWERDNS_SERVER_ID", default="localhost")
DNS_ISPCONFIG_URL = env.str("DNS_ISPCONFIG_URL", default="")  # https://host:8080/remote/json.php
DNS_ISPCONFIG_USER = env.str("DNS_ISPCONFIG_USER", default="")
DNS_ISPCONFIG_PASSWORD = env.str("DNS_ISPCONFIG_PASSWORD", default="")
DNS_ISPCONFIG_CLIENT_ID = env.int("DNS_ISPCONFIG_CLIENT_ID", default=0)
DNS_ISPCONFIG_SERVER_ID = env.int("DNS_ISPCONFIG_SERVER_ID", default=1)
# A zone is created only when the domain is delegated to all of these.
DNS_REQUIRED_NAMESERVERS = env.list(
    "DNS_REQUIRED_NAMESERVERS", default=["ns1.nodepoint.eu", "ns2.nodepoint.eu"]
)
# The resolver the delegation check asks, host or host:port; empty: the system's.
DNS_RESOLVER = env.str("DNS_RESOLVER", default="")
# How a domain's delegation is checked: "resolver" (ask DNS) or "demo" (names under
# DNS_DEMO_DOMAINS count as delegated, nobody is asked); empty: demo with the local backend.
DNS_DELEGATION_CHECK = env.str("DNS_DELEGATION_CHECK", default="")
if DNS_DELEGATION_CHECK not in ("", "resolver", "demo"):
    raise ImproperlyConfigured(
        f"DNS_DELEGATION_CHECK must be resolver, demo or empty, not {DNS_DELEGATION_CHECK!r}."
    )
DNS_DEMO_DOMAINS = env.list("DNS_DEMO_DOMAINS", default=["test", "example"])
DNS_HOSTMASTER = env.str("DNS_HOSTMASTER", default="hostmaster.nodepoint.eu")
DNS_PROXY_IP = env.str("DNS_PROXY_IP", default="192.0.2.1")  # what PROXYSRV stands for
DNS_TTL_MIN = env.int("DNS_TTL_MIN", default=60)
DNS_TTL_MAX = env.int("DNS_TTL_MAX", default=86400)
DNS_DEFAULT_TTL = env.int("DNS_DEFAULT_TTL", default=3600)
# Custom domains of WordPress sites must point at the site's proxy: checked by "resolver"
# (ask DNS: SITE_DOMAIN_RESOLVER, host or host:port, else the system's) or "demo" (names
# under DNS_DEMO_DOMAINS pass, nobody is asked); empty: demo with the local DNS backend.
SITE_DOMAIN_CHECK = env.str("SITE_DOMAIN_CHECK", default="")
if SITE_DOMAIN_CHECK not in ("", "resolver", "demo"):
    raise ImproperlyConfigured(
        f"SITE_DOMAIN_CHECK must be resolver, demo or empty, not {SITE_DOMAIN_CHECK!r}."
    )
SITE_DOMAIN_RESOLVER = env.str("SITE_DOMAIN_RESOLVER", default="")
# DNS plans are catalogue products billed like any other (reminders, grace and suspension
# follow the BILLING_* settings); their provisioning module is "dns" (PROVISIONING_MODULES).

# --- Static files -------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Customers' data archives (accounts/data_rights.py): a folder of their own, never under
# MEDIA_ROOT or the static files, served only through the signed download view. Each
# archive and its emailed link last DATA_EXPORT_DAYS, then the daily clean-up deletes it.
DATA_EXPORT_DIR = env.str("DATA_EXPORT_DIR", default=str(BASE_DIR / "private" / "data_exports"))
DATA_EXPORT_DAYS = env.int("DATA_EXPORT_DAYS", default=7)
if DATA_EXPORT_DAYS < 1:
    raise ImproperlyConfigured("DATA_EXPORT_DAYS must be at least 1.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "data_exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_EXPORT_DIR},
    },
    "staticfiles": {
        # Hashed, compressed files in production (after collectstatic); plain files in dev.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
STORAGES["support_attachments"] = {  # the support desk's attachments (outside the web root)
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": SUPPORT_ATTACHMENTS_ROOT / "support", "base_url": None},
}
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "/media/"

# --- Payment providers --------------------------------------------------------------------
# A gateway is enabled by the presence of its credentials (see payments/gateways/).

STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_VERSION = env.str("STRIPE_API_VERSION", default="2026-10-28.endive")
PAYPAL_CLIENT_ID = env.str("PAYPAL_CLIENT_ID", default="")
PAYPAL_CLIENT_SECRET = env.str("PAYPAL_CLIENT_SECRET", default="")
PAYPAL_WEBHOOK_ID = env.str("PAYPAL_WEBHOOK_ID", default="")
PAYPAL_MODE = env.str("PAYPAL_MODE", default="sandbox")
if PAYPAL_MODE not in {"sandbox", "live"}:
    raise ImproperlyConfigured(f"PAYPAL_MODE must be 'sandbox' or 'live', not {PAYPAL_MODE!r}.")

# --- Forms ---------------------------------------------------------------------------------

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- API ----------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Bearer API keys for machine clients; the session (with CSRF) for the browser.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "billing_portal.common.api_errors.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "billing_portal.common.api.ApiPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["billing_portal.common.api.ApiKeyRateThrottle"],
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "PAGE_SIZE": 25,
}
# Requests per key (or per signed-in user, or per address) a minute, hour or day: 120/m.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="120/m")
if not re.fullmatch(r"[1-9][0-9]*/[smhd]", API_THROTTLE_RATE):
    raise ImproperlyConfigured(
        f"API_THROTTLE_RATE must be a rate like 120/m (s, m, h or d), not {API_THROTTLE_RATE!r}."
    )
# A request holding an Idempotency-Key longer than this died: a retry may take the key over.
API_IDEMPOTENCY_LOCK_SECONDS = env.int("API_IDEMPOTENCY_LOCK_SECONDS", default=120)
# How long the first answer to an Idempotency-Key is kept to replay.
API_IDEMPOTENCY_KEEP_HOURS = env.int("API_IDEMPOTENCY_KEEP_HOURS", default=24)
# One error shape (billing_portal/common/api_errors.py): {"type", "code", "detail", "errors"}.
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "billing_portal.common.api_errors.ApiExceptionHandler",
    "EXCEPTION_FORMATTER_CLASS": "billing_portal.common.api_errors.ApiErrorFormatter",
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "406", "415", "429"],
    "ERROR_SCHEMAS": {
        str(code): "billing_portal.common.api_errors.ErrorSerializer"
        for code in (400, 401, 403, 404, 405, 406, 409, 415, 422, 429)
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{PORTAL_NAME} API",
    "DESCRIPTION": (
        "Client API of the billing portal. Authenticate with `Authorization: Bearer <key>` "
        "(keys are made under Account, API keys). POSTs that move money take an "
        "`Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ServiceStatusEnum": "provisioning.models.Service.Status",
        "InvoiceStatusEnum": "invoices.models.Invoice.Status",
        "InvoiceKindEnum": "invoices.models.Invoice.Kind",
        "InvoiceLineKindEnum": "invoices.models.InvoiceLine.Kind",
        # The portal's currencies, wherever an API body names one (staff money endpoints).
        "CurrencyEnum": [(code, code) for code in CURRENCIES],
        "CancellationKindEnum": "provisioning.models.CancellationRequest.Kind",
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "PaymentAttemptStatusEnum": "payments.models.PaymentAttempt.Status",
        "GatewaySubscriptionStatusEnum": "payments.models.GatewaySubscription.Status",
        "CreditEntryKindEnum": "credits.models.CreditEntry.Kind",
        "OperationStatusEnum": "provisioning.models.ProvisioningOperation.Status",
        "PaymentMethodEnum": "payments.models.Payment.Method",
    },
    # Swagger UI assets come from drf-spectacular-sidecar, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging ------------------------------------------------------------------------------

# plain: one readable line a record; json: one JSON object a line for log collectors.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "billing_portal.common.log.RequestIdFilter"}},
    "formatters": {
        "plain": {
            "()": "logging.Formatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            # for handlers added without the filter
            "defaults": {"request_id": "-"},
        },
        "json": {"()": "billing_portal.common.log.json_formatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Axes announces its configuration at every start; only its warnings are news.
        "axes": {"level": "WARNING"},
        # A request for a host the portal does not serve (a probe, a scanner) is logged,
        # never mailed to staff: Django's default would mail every one.
        "django.security.DisallowedHost": {"handlers": ["console"], "propagate": False},
    },
}

# --- Metrics -----------------------------------------------------------------------------

# Bearer token Prometheus sends to /metrics; empty: only staff with the permission can see it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN must be at least 32 characters (python -c 'import secrets; "
        "print(secrets.token_urlsafe(32))')."
    )

# --- Error reports (Sentry) ---------------------------------------------------------------

# Reports go to Sentry only when a DSN is set; no PII leaves (see common/sentry.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from billing_portal.common.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- Staff reports and accounting exports (issue 19) ----------------------------------------

# The exports' files (reports/exports.py): a folder of their own outside the web root, written
# by the default queue's workers and handed out only to the staff user who asked.
REPORT_EXPORT_DIR = env.str(
    "REPORT_EXPORT_DIR", default=str(BASE_DIR / "private" / "report_exports")
)
# Days an export is kept (file and row); the daily clean-up deletes it then.
REPORT_EXPORT_DAYS = env.int("REPORT_EXPORT_DAYS", default=30)
if REPORT_EXPORT_DAYS < 1:
    raise ImproperlyConfigured("REPORT_EXPORT_DAYS must be at least 1.")
STORAGES["report_exports"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": REPORT_EXPORT_DIR, "base_url": None},
}

# --- Dunning (issue 20): card retries, card expiry notices, the reminder sequence ------------

# Days after the due date on which a failed off-session renewal charge is tried again (the
# first try is on the due date); never once a service the invoice bills is suspended.
DUNNING_RETRY_DAYS = env.list("DUNNING_RETRY_DAYS", cast=int, default=[1, 3, 5])
if sorted(set(DUNNING_RETRY_DAYS)) != DUNNING_RETRY_DAYS or min(DUNNING_RETRY_DAYS, default=1) < 1:
    raise ImproperlyConfigured("DUNNING_RETRY_DAYS takes rising day counts above 0, e.g. 1,3,5.")
# Reminders of an unpaid invoice, in days relative to its due date (negative: before it, 0:
# on it). Unset, it is the sequence the two older settings above describe.
INVOICE_REMINDER_DAYS = env.list(
    "INVOICE_REMINDER_DAYS",
    cast=int,
    default=[-BILLING_REMINDER_DAYS_BEFORE, 0, *BILLING_OVERDUE_REMINDER_DAYS],
)
if not INVOICE_REMINDER_DAYS or sorted(set(INVOICE_REMINDER_DAYS)) != INVOICE_REMINDER_DAYS:
    raise ImproperlyConfigured("INVOICE_REMINDER_DAYS takes rising day counts, e.g. -3,1,7,14.")
CELERY_BEAT_SCHEDULE["payments.card_expiry_notices"] = {
    "task": "payments.card_expiry_notices",
    "schedule": crontab(hour=env.int("BILLING_RUN_HOUR_UTC", default=2), minute=20),
}
