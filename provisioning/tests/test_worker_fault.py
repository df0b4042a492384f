"""A Celery worker killed in the middle of a panel create (PostgreSQL + Redis + a real worker
process): the sweeper puts the operation back and it completes exactly once, adopting the
server the panel made instead of creating a second.

The panel is a tiny Pterodactyl stand-in on 127.0.0.1 that creates the server and then never
answers, so the worker is inside the call when it is killed."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from billing_portal.common.testing import celery_worker, database_url_for_tests
from provisioning import services
from provisioning.models import ProvisioningOperation, Service
from provisioning.tasks import operation_run_task
from provisioning.tests.factories import ServerFactory, panel_product
from provisioning.tests.test_pterodactyl import EGG, SETTINGS

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


class FakePterodactyl(BaseHTTPRequestHandler):
    created: dict[str, dict] = {}
    creates = 0
    create_seen = threading.Event()
    release = threading.Event()

    def log_message(self, *args) -> None:  # quiet
        return None

    def _send(self, status: int, body: dict | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0].removeprefix("/api/application/")
        if path.startswith("servers/external/"):
            found = self.created.get(path.rsplit("/", 1)[1])
            self._send(200, found) if found else self._send(404, {"errors": []})
        elif path.startswith("users/external/"):
            user = {"id": 9, "username": "c9", "email": "a@b.c"}
            self._send(200, {"object": "user", "attributes": user})
        elif path.startswith("nests/"):
            self._send(200, EGG)
        else:
            self._send(404, {"errors": []})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).creates += 1
        server = {
            "id": 500 + self.creates,
            "identifier": "abcd1234",
            "uuid": "u",
            "external_id": body["external_id"],
        }
        self.created[body["external_id"]] = {"object": "server", "attributes": server}
        self.create_seen.set()
        self.release.wait(timeout=60)  # made, but the answer never comes in time
        self._send(201, {"object": "server", "attributes": server})


def test_a_worker_killed_mid_create_completes_once_after_the_sweep(customer, tmp_path):
    panel = ThreadingHTTPServer(("127.0.0.1", 0), FakePterodactyl)
    threading.Thread(target=panel.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{panel.server_address[1]}"
    server = ServerFactory(
        module="pterodactyl", base_url=url, credentials={"api_key": "ptla_" + "k" * 43}
    )
    service = Service.objects.create(
        customer=customer,
        product=panel_product(server, **SETTINGS),
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("10"),
        server=server,
        status="provisioning",
    )
    operation = ProvisioningOperation.objects.create(
        service=service, kind="create", idempotency_key="fault", next_attempt_at=timezone.now()
    )

    try:
        with celery_worker(
            tmp_path / "worker.log", env={"DATABASE_URL": database_url_for_tests()}
        ) as (
            queue,
            worker,
        ):
            operation_run_task.apply_async(args=[operation.pk], queue=queue)
            seen = FakePterodactyl.create_seen.wait(timeout=60)
            assert seen, (tmp_path / "worker.log").read_text()
            worker.kill()  # inside the create call
            worker.wait(timeout=30)
    finally:
        FakePterodactyl.release.set()

    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == ("running", 1)

    # the sweeper finds it past the timeout and it runs again: adopted, not created twice
    later = timezone.now() + timedelta(minutes=11)
    assert services.operations_sweep(now=later) == [operation.pk]
    operation = services.operation_run(operation_id=operation.pk, now=later)
    panel.shutdown()
    service.refresh_from_db()
    assert operation.status == "succeeded"
    assert (service.status, service.external_id) == ("active", "501")
    assert FakePterodactyl.creates == 1
