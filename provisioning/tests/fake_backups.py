"""A panel module the tests register (it is the edge we cannot run): accounts and their
backups kept in this process's memory, implementing `Lifecycle` and `Backups`.

Registered in a test with `registered()` (the test process), or by a worker process through
PROVISIONING_MODULES=...,provisioning.tests.fake_backups. Server options: `delay` (seconds
each backup takes: a slow backend). `FakeBackupPanel.failures` holds errors the next calls
raise, one each, for retry tests; `calls` records every call."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from provisioning.errors import PanelError
from provisioning.panels.base import AccountSpec, ProvisionResult, ServerCredentials

NAME = "fakebackups"
LABEL = "Fake panel with backups (tests)"
PRODUCT_SETTINGS: tuple[dict[str, Any], ...] = ()

_ids = itertools.count(1)


class FakeBackupPanel:
    backups: dict[str, list[dict[str, Any]]] = {}
    calls: list[tuple[str, ...]] = []
    failures: list[PanelError] = []

    def __init__(self, credentials: ServerCredentials) -> None:
        self.delay = float(credentials.options.get("delay", 0))

    @classmethod
    def reset(cls) -> None:
        cls.backups, cls.calls, cls.failures = {}, [], []

    @classmethod
    def give(cls, external_id: str, name: str) -> str:
        """A backup already on the panel (a manual one, say); returns its id."""
        backup = {"id": f"b{next(_ids)}", "name": name, "created_at": timezone.now().isoformat()}
        cls.backups.setdefault(external_id, []).append(backup)
        return str(backup["id"])

    def _call(self, *call: str) -> None:
        type(self).calls.append(call)
        if self.failures:
            raise self.failures.pop(0)

    # Lifecycle
    def test_connection(self) -> None:
        self._call("test_connection")

    def create(self, spec: AccountSpec) -> ProvisionResult:
        self._call("create", spec.reference)
        return ProvisionResult(external_id=spec.reference, username=f"u{spec.service_id}")

    def suspend(self, external_id: str, *, reason: str) -> None:
        self._call("suspend", external_id)

    def unsuspend(self, external_id: str) -> None:
        self._call("unsuspend", external_id)

    def terminate(self, external_id: str) -> None:
        self._call("terminate", external_id)

    # Backups
    def backups_list(self, external_id: str) -> list[dict[str, Any]]:
        self._call("backups_list", external_id)
        return [dict(backup) for backup in self.backups.get(external_id, [])]

    def backup_create(self, external_id: str, *, name: str) -> dict[str, Any]:
        self._call("backup_create", external_id, name)
        time.sleep(self.delay)
        return {"id": self.give(external_id, name)}

    def backup_delete(self, external_id: str, *, backup_id: str) -> None:
        self._call("backup_delete", external_id, backup_id)
        kept = [b for b in self.backups.get(external_id, []) if b["id"] != backup_id]
        self.backups[external_id] = kept

    def backup_restore(self, external_id: str, *, backup_id: str) -> None:
        self._call("backup_restore", external_id, backup_id)


Panel = FakeBackupPanel


@contextlib.contextmanager
def registered() -> Iterator[type[FakeBackupPanel]]:
    """This module registered as a provisioning module for the test's duration, its state
    empty."""
    from provisioning.panels.registry import MODULES, module_from_path, module_register

    module_register(module_from_path(__name__))
    FakeBackupPanel.reset()
    try:
        yield FakeBackupPanel
    finally:
        MODULES.pop(NAME, None)
        FakeBackupPanel.reset()
