"""Benchmark-only settings: the portal's settings plus one trivial view to compare with."""

from billing_portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
