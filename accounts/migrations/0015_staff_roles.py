"""The staff roles (accounts/roles.py): the permission to act as a customer, then the groups
Support, Billing, Technical and Administrator with their permissions.

The option change is state only (no schema), so it shares this migration with the data step
it is needed by. Permissions are normally created after `migrate` ends (post_migrate); they
are created here first so a fresh database gets complete roles, which is also why this
migration runs after the latest migration of every app whose permissions a role holds.
`manage.py staff_roles` re-syncs the roles when later migrations add models."""

from django.db import migrations

from accounts.migrations._roles import seed_roles


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0014_second_factor"),
        ("auth", "__latest__"),
        ("contenttypes", "__latest__"),
        ("admin", "__latest__"),
        ("sessions", "__latest__"),
        ("axes", "__latest__"),
        ("otp_totp", "__latest__"),
        ("otp_static", "__latest__"),
        ("common", "0004_list_indexes"),
        ("catalogue", "0003_product_cancellation"),
        ("invoices", "0015_list_indexes"),
        ("payments", "0011_webhook_unpruned_index"),
        ("credits", "0013_list_indexes"),
        ("provisioning", "0020_automatic_backups"),
        ("dns", "0007_list_indexes"),
        ("billing", "0006_list_indexes"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": ["name", "id"],
                "permissions": [("act_as_customer", "Can act as the customer in the client area")],
            },
        ),
        # Backwards the groups stay: staff may belong to them, and they are harmless.
        migrations.RunPython(seed_roles, migrations.RunPython.noop),
    ]
