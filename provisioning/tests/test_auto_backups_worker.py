"""The issue's proof for scheduled backups: 200 services due at once on a slow backend do not
delay a provisioning operation queued at the same time, measured as that operation's queue
wait (its start minus its creation), with a real Celery worker per queue.

Everything runs as in production: a broker of the test's own (a `redis-server` on a free
loopback port, so the real queue names `backups` and `panels` are used with nothing else on
them), the routes of settings.py, one solo worker process consuming `backups` and one
consuming `panels`, both on the test's PostgreSQL database, and the fake panel module
(provisioning/tests/fake_backups.py) loaded by the workers through PROVISIONING_MODULES,
its backups taking 0.5 s each: the backups alone take 100 s or more."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from django.utils import timezone

from billing_portal.common.testing import (
    RedisServer,
    celery_broker,
    celery_worker,
    database_url_for_tests,
    wait_for,
)
from provisioning.models import AutomaticBackup, ProductBackupPolicy, ProvisioningOperation, Service
from provisioning.tasks import auto_backups_due_task, operation_run_task
from provisioning.tests import fake_backups
from provisioning.tests.factories import ServerFactory, panel_product, service_on

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SERVICES = 200
BACKUP_SECONDS = 0.5
# The provisioning operation must start within this many seconds of being queued: far below
# the backups' own 100 s, far above a loaded machine's scheduling noise.
MAX_QUEUE_WAIT = 10.0


def _ready(log) -> bool:
    return "ready." in log.read_text()


def test_due_backups_on_a_slow_backend_do_not_delay_a_provisioning_operation(customer, tmp_path):
    server = ServerFactory(module=fake_backups.NAME, options={"delay": BACKUP_SECONDS})
    first = service_on(server, customer=customer, status="active", external_id="acct-0")
    ProductBackupPolicy.objects.create(product=first.product, keep=3)
    Service.objects.bulk_create(
        Service(
            customer=customer,
            product=first.product,
            server=server,
            cycle="monthly",
            currency="USD",
            recurring_amount=Decimal("10"),
            status="active",
            external_id=f"acct-{n}",
        )
        for n in range(1, SERVICES)
    )
    new = Service.objects.create(
        customer=customer,
        product=panel_product(server),
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server,
        status="provisioning",
    )

    broker = RedisServer(tmp_path)
    broker.start()
    env = {
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_URL": broker.url,
        "CELERY_BROKER_URL": broker.url,
        "CELERY_RESULT_BACKEND": broker.url,
        "CACHE_URL": broker.url,
        "PROVISIONING_MODULES": f"dnszones.module,{fake_backups.__name__}",
    }
    logs = {queue: tmp_path / f"{queue}.log" for queue in ("backups", "panels")}
    try:
        with (
            celery_broker(broker.url),
            celery_worker(logs["backups"], env=env, queue="backups"),
            celery_worker(logs["panels"], env=env, queue="panels"),
        ):
            assert wait_for(lambda: all(_ready(log) for log in logs.values()), 90), _logs(logs)

            # Beat's due run, on the backups queue: 200 rows, 200 tasks queued there.
            auto_backups_due_task.delay()
            assert wait_for(lambda: AutomaticBackup.objects.count() == SERVICES, 60), _logs(logs)

            # While the backups run with most of them still queued behind the first ones...
            assert wait_for(lambda: _made() >= 2, 60), _logs(logs)
            backlog = broker.llen("backups")
            assert backlog > SERVICES / 2  # ~0.5 s each: over 50 s of backups still ahead

            # ...a new service's set-up is queued (routed to `panels` by its task's name).
            operation = ProvisioningOperation.objects.create(
                service=new,
                kind="create",
                idempotency_key=f"create-{new.pk}",
                next_attempt_at=timezone.now(),
            )
            operation_run_task.delay(operation.pk)
            assert wait_for(lambda: _status(operation) == "succeeded", 60), _logs(logs)

            operation.refresh_from_db()
            waited = (operation.started_at - operation.created_at).total_seconds()
            made = _made()
            print(  # noqa: T201 (the measurement, shown with -s)
                f"\nprovisioning operation's queue wait {waited:.2f} s, with {backlog} automatic "
                f"backups queued ahead on `backups` ({BACKUP_SECONDS} s each); backups made "
                f"when it ended: {made}/{SERVICES}"
            )
            assert waited < MAX_QUEUE_WAIT
            assert made < SERVICES / 2  # the backups were still running meanwhile
    finally:
        broker.stop()

    new.refresh_from_db()
    assert (new.status, new.external_id) == ("active", new.reference)
    # no backup ran on the panels worker, none twice
    assert "Task backups.service_backup[" not in logs["panels"].read_text()
    assert "Task backups.service_backup[" in logs["backups"].read_text()
    assert "Task provisioning.operation_run[" not in logs["backups"].read_text()
    per_slot = AutomaticBackup.objects.filter(slot=timezone.localdate()).values("service")
    assert per_slot.count() == per_slot.distinct().count() == SERVICES


def _made() -> int:
    return AutomaticBackup.objects.filter(status="succeeded").count()


def _status(operation: ProvisioningOperation) -> str:
    return ProvisioningOperation.objects.values_list("status", flat=True).get(pk=operation.pk)


def _logs(logs) -> str:
    parts = []
    for queue, path in logs.items():
        with contextlib.suppress(OSError):
            parts.append(f"--- {queue} worker ---\n{path.read_text()[-3000:]}")
    return "\n".join(parts)
