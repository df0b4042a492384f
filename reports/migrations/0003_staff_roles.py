"""The staff roles synced again (accounts/roles.py), adding what the models and permissions
of the API, the outbound webhooks, the knowledge base, announcements and the reports gave
the roles since billing/0007_staff_roles ran. In reports, the top layer now, whose migrations
may follow every app's; additive, as billing/0007 (an existing group keeps what staff gave
it). The next release that adds role permissions adds a migration like this one."""

from django.db import migrations

from billing.migrations._roles import seed_roles


class Migration(migrations.Migration):
    dependencies = [
        ("common", "0006_email_overrides"),
        ("accounts", "0021_email_preferences"),
        ("catalogue", "0006_client_groups"),
        ("invoices", "0018_group_discount_line"),
        ("payments", "0014_dunning"),
        ("credits", "0013_list_indexes"),
        ("provisioning", "0022_staff_api"),
        ("dns", "0007_list_indexes"),
        ("support", "0004_announcements"),
        ("billing", "0007_staff_roles"),
        ("reports", "0002_report_export"),
    ]

    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
