"""The beat container's healthcheck: is the schedule fresh?

A running beat (RedBeat, see CELERY_BEAT_SCHEDULER) sends each entry when it is due and
moves it on to its next due time, so no entry stays overdue for longer than a tick. An entry
overdue by more than the allowed lag means no beat is sending: exit status 1, with the
reason. The schedule lives in the broker's Redis, so this needs nothing from the beat
process itself.
"""

from __future__ import annotations

import time

import redis
from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from redbeat.schedulers import ensure_conf, get_redis


class Command(BaseCommand):
    help = "Exit 0 while beat keeps the schedule up to date, 1 when it is stale."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--max-lag",
            type=float,
            default=2 * settings.CELERY_BEAT_MAX_LOOP_INTERVAL + 30,
            help="Seconds an entry may be overdue (default: two beat ticks and 30 s).",
        )

    def handle(self, *args, max_lag: float, **options) -> None:
        app = current_app._get_current_object()  # the portal's (billing_portal/celery.py)
        schedule_key = ensure_conf(app).schedule_key
        try:
            # Scores are due times (UTC timestamps); -1 marks an entry with no next run.
            earliest = get_redis(app).zrangebyscore(
                schedule_key, 0, "+inf", start=0, num=1, withscores=True
            )
        except redis.RedisError as exc:
            raise CommandError(f"The schedule cannot be read from Redis: {exc}") from exc
        if not earliest:
            raise CommandError(f"Beat has no schedule in Redis ({schedule_key}): not started.")
        entry, due = earliest[0]
        overdue = time.time() - due
        if overdue > max_lag:
            raise CommandError(
                f"The schedule is stale: {entry} is overdue by {overdue:.0f} s "
                f"(more than {max_lag:.0f} s), so no beat is sending."
            )
        self.stdout.write(f"Beat is sending: the next entry is due in {max(-overdue, 0):.0f} s.")
