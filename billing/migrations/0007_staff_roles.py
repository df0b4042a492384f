"""The staff roles (accounts/roles.py): the groups Support, Billing, Technical and
Administrator with their permissions. Permissions are normally created after `migrate` ends
(post_migrate); they are created here first so a fresh database gets complete roles, which is
why this migration is billing's (the top layer, whose migrations may follow every app's) and
runs after the latest migration of every app whose permissions a role holds. Backwards the
groups stay: staff may belong to them, and they are harmless. `manage.py staff_roles`
re-syncs the roles when later migrations add models."""

from django.db import migrations

from billing.migrations._roles import seed_roles


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_list_indexes"),
        ("accounts", "0019_api_keys"),
        ("auth", "__latest__"),
        ("contenttypes", "__latest__"),
        ("admin", "__latest__"),
        ("sessions", "__latest__"),
        ("axes", "__latest__"),
        ("otp_totp", "__latest__"),
        ("otp_static", "__latest__"),
        ("common", "0004_list_indexes"),
        ("catalogue", "0003_product_cancellation"),
        ("invoices", "0016_cancel_renewals"),
        ("payments", "0011_webhook_unpruned_index"),
        ("credits", "0013_list_indexes"),
        ("provisioning", "0021_automatic_backup_operation"),
        ("dns", "0007_list_indexes"),
        ("support", "0002_default_departments"),
    ]

    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
