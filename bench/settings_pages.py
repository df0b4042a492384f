"""Settings for bench/pages.py: the portal as production runs it (DEBUG off: cached templates,
no query log) plus the trivial baseline view, served in process by Django's test client, so
static files are the plain storage (no collectstatic manifest) and nothing redirects to
HTTPS."""

from bench.settings_bench import *  # noqa: F403
from bench.settings_bench import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
