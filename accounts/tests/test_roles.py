"""The staff roles (accounts/roles.py): seeded by the migration, re-synced by
`manage.py staff_roles` (idempotent), and picking up permissions that appear later."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from accounts.roles import ROLES, role_permissions

pytestmark = pytest.mark.django_db


def _held(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def _wanted(role) -> set[str]:
    perms = role_permissions(role, Permission.objects).select_related("content_type")
    return {f"{p.content_type.app_label}.{p.codename}" for p in perms}


def test_the_migration_seeds_every_role_with_its_permissions():
    # the test database is built by the migrations, so this is what billing/0007_staff_roles
    # and reports/0003_staff_roles (its re-sync after later models) made
    for role in ROLES:
        assert _held(role.name) == _wanted(role), role.name
    assert _held("Administrator") == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    assert {"accounts.act_as_customer", "provisioning.suspend_service"} <= _held("Support")
    assert "payments.refund_payment" in _held("Billing")
    assert "payments.refund_payment" not in _held("Support")
    assert "provisioning.change_server" in _held("Technical")
    assert "provisioning.change_server" not in _held("Billing")


def test_the_command_is_idempotent_and_puts_hand_edits_back():
    # given a role edited by hand
    support = Group.objects.get(name="Support")
    support.permissions.remove(Permission.objects.get(codename="act_as_customer"))
    support.permissions.add(Permission.objects.get(codename="refund_payment"))
    Group.objects.get(name="Technical").delete()
    out = StringIO()
    # when
    call_command("staff_roles", stdout=out)
    # then
    assert "Support: synced, 1 permissions added, 1 removed" in out.getvalue()
    assert "Technical: created" in out.getvalue()
    for role in ROLES:
        assert _held(role.name) == _wanted(role)
    again = StringIO()
    call_command("staff_roles", stdout=again)
    assert again.getvalue().count("0 permissions added, 0 removed") == len(ROLES)


def test_permissions_of_a_model_added_later_join_the_role_on_the_next_sync():
    # given a permission that arrives after the roles were seeded (a later migration adding
    # one to a model the Support role holds EVERY of: the staff notes)
    notes = ContentType.objects.get(app_label="accounts", model="staffnote")
    Permission.objects.create(content_type=notes, codename="export_staffnote", name="Export")
    # when
    call_command("staff_roles", stdout=StringIO())
    # then every permission of it, its own ones included, is Support's (and Administrator's)
    wanted = {"accounts.view_staffnote", "accounts.add_staffnote", "accounts.export_staffnote"}
    assert wanted <= _held("Support")
    assert wanted <= _held("Administrator")
    assert not wanted & _held("Billing")


def test_the_migration_only_adds_to_a_group_that_already_has_a_roles_name():
    # given a provider's own "Support" group holding a permission the role table does not give
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from billing.migrations._roles import seed_roles

    historical = MigrationExecutor(connection).loader.project_state().apps  # as a migration's

    support = Group.objects.get(name="Support")
    extra = Permission.objects.get(codename="add_server")
    support.permissions.add(extra)
    support.permissions.remove(Permission.objects.get(codename="view_customer"))
    # when the migration's step runs again (as on an upgrade)
    seed_roles(historical, None)
    # then the role's permissions are there and the provider's own one was kept
    held = _held("Support")
    assert "accounts.view_customer" in held
    assert "provisioning.add_server" in held
