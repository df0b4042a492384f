"""Which audit actions exist: each app declares its own in `<app>/audit.py`.

An app's `audit.py` holds one or more `AuditActions` classes (Django `TextChoices`), e.g.

    class InvoiceAudit(AuditActions):
        INVOICE_ISSUED = "invoice.issued", "Invoice issued"

The kernel finds them itself, as Django's admin finds `admin.py` modules, so no app registers
anything in its `apps.py`, and a new action needs no migration anywhere (the column has no
choices). The rules, checked at start-up by a system check (`audit_action_check`):

- a value is `<namespace>.<name>`, lower-case letters, digits and underscores;
- a value is declared once in the whole portal;
- a namespace (`invoice`, `service`, ...) belongs to one app: the app whose `audit.py`
  declares it. Two apps using the same namespace is an error.

Stored rows keep their value for ever, so a declared value must never be renamed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks
from django.db import models
from django.utils.module_loading import module_has_submodule

ACTION_FORMAT = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
MODULE_NAME = "audit"


class AuditActions(models.TextChoices):
    """Base of every app's declared audit actions (subclass it in `<app>/audit.py`)."""


@dataclass(frozen=True)
class Declaration:
    """One action as declared: its value, label, the app and the class declaring it."""

    value: str
    label: str
    app_label: str
    declared_in: str  # "module.Class", for the messages of the system check

    @property
    def namespace(self) -> str:
        return self.value.partition(".")[0]


class AuditRegistry:
    """Every declared action, by app. The portal has one (`audit_actions`); tests build
    their own to prove the rules."""

    def __init__(self, *, autodiscover: bool = True) -> None:
        self._declarations: list[Declaration] = []
        self._labels: dict[str, str] = {}
        self._discovered = not autodiscover  # a test's registry holds only what it declares

    def register(self, app_label: str, actions: type[AuditActions]) -> None:
        """Record `actions` as declared by `app_label`. Conflicts are kept, not refused, so
        the system check can report every one of them at once."""
        declared_in = f"{actions.__module__}.{actions.__qualname__}"
        # A value repeated inside one class is refused by Django's Choices (enum.unique).
        for member in actions:
            value, label = str(member.value), str(member.label)
            self._declarations.append(Declaration(value, label, app_label, declared_in))
            self._labels.setdefault(value, label)

    def discover(self) -> None:
        """Import each installed app's `audit` module and register the classes it declares
        (once; the kernel's AppConfig.ready calls it)."""
        if self._discovered:
            return
        self._discovered = True
        for config in apps.get_app_configs():
            for actions in _declared_in(config):
                self.register(config.label, actions)

    def declarations(self) -> list[Declaration]:
        self.discover()
        return list(self._declarations)

    def is_declared(self, value: str) -> bool:
        self.discover()
        return value in self._labels

    def label(self, value: str) -> str:
        """The label of `value`, or the value itself if no app declares it (any more)."""
        self.discover()
        return self._labels.get(value, value)

    def choices(self) -> list[tuple[str, str]]:
        """(value, label) of every declared action, by value: for forms and admin filters."""
        self.discover()
        return sorted(self._labels.items())

    def problems(self) -> list[checks.CheckMessage]:
        """What breaks the rules (see the module docstring), as system-check errors."""
        declarations = self.declarations()
        return [
            *_malformed(declarations),
            *_declared_twice(declarations),
            *_namespaces_shared(declarations),
        ]


def _declared_in(config: AppConfig) -> Iterable[type[AuditActions]]:
    if not module_has_submodule(config.module, MODULE_NAME):
        return []
    module = import_module(f"{config.name}.{MODULE_NAME}")
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, AuditActions)
        and value is not AuditActions
        and value.__module__ == module.__name__  # not one imported from another app
    ]


def _malformed(declarations: list[Declaration]) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"Audit action {d.value!r} ({d.declared_in}) is not '<namespace>.<name>' "
            "in lower-case letters, digits and underscores.",
            id="common.E101",
        )
        for d in declarations
        if not ACTION_FORMAT.fullmatch(d.value)
    ]


def _declared_twice(declarations: list[Declaration]) -> list[checks.CheckMessage]:
    by_value: dict[str, list[Declaration]] = defaultdict(list)
    for declaration in declarations:
        by_value[declaration.value].append(declaration)
    return [
        checks.Error(
            f"Audit action {value!r} is declared {len(found)} times: "
            + ", ".join(d.declared_in for d in found),
            id="common.E102",
        )
        for value, found in sorted(by_value.items())
        if len(found) > 1
    ]


def _namespaces_shared(declarations: list[Declaration]) -> list[checks.CheckMessage]:
    owners: dict[str, set[str]] = defaultdict(set)
    for declaration in declarations:
        owners[declaration.namespace].add(declaration.app_label)
    return [
        checks.Error(
            f"Audit namespace {namespace!r} is claimed by the apps {', '.join(sorted(apps_))}; "
            "an app owns its namespaces.",
            id="common.E103",
        )
        for namespace, apps_ in sorted(owners.items())
        if len(apps_) > 1
    ]


audit_actions = AuditRegistry()


def audit_action_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check over the portal's declared actions (registered by the kernel's
    AppConfig)."""
    return audit_actions.problems()
