"""Settings of the processes that test_beat.py starts: the portal's own, plus one probe task
every BEAT_PROBE_PERIOD seconds on a private queue, RedBeat keys of the test's own, and a
one-second tick (so a waiting beat takes the lock over within a second)."""

import os

from billing_portal.settings import *  # noqa: F403

BEAT_PROBE_ID = os.environ["BEAT_PROBE_ID"]
BEAT_PROBE_PERIOD = 2.0
BEAT_PROBE_QUEUE = f"beat-probe-{BEAT_PROBE_ID}"
CELERY_IMPORTS = ["billing_portal.tests.beat_probe"]
CELERY_BEAT_SCHEDULE = {
    "beat-probe": {
        "task": "tests.beat_probe",
        "schedule": BEAT_PROBE_PERIOD,
        "options": {"queue": BEAT_PROBE_QUEUE},
    }
}
CELERY_REDBEAT_KEY_PREFIX = f"redbeat-test-{BEAT_PROBE_ID}:"
CELERY_BEAT_MAX_LOOP_INTERVAL = 1
