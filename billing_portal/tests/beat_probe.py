"""The probe task of test_beat.py: each run appends its time to a Redis list, so the test
counts how often beat sent it."""

from __future__ import annotations

import time

import redis
from celery import shared_task
from django.conf import settings


def runs_key(probe_id: str) -> str:
    return f"beat-probe-runs:{probe_id}"


@shared_task(name="tests.beat_probe")
def beat_probe() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.rpush(runs_key(settings.BEAT_PROBE_ID), f"{time.time():.3f}")
