"""The staff roles again, after this release's new models (staff notes, sessions, data
exports, API keys, automatic backup operations, released renewal periods, the support desk): their permissions
are created first and the role table (accounts/roles.py) applied, as in 0015, so a fresh
database's Support group holds the staff-note permissions too. Idempotent, like
`manage.py staff_roles`."""

from django.db import migrations

from accounts.migrations._roles import seed_roles


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0019_api_keys"),
        ("invoices", "0016_cancel_renewals"),
        ("provisioning", "0021_automatic_backup_operation"),
        ("support", "0002_default_departments"),
    ]

    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
