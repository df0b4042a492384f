"""AuditEvent moves to the kernel (billing_portal.common, `common_auditevent`), keeping every
row: the table and its indexes are renamed here, while the model still is accounts', then
the model leaves accounts' state; common's 0003_auditevent_from_accounts takes it up.

The closed CHECK on `action` goes: which actions exist is now each app's declaration in its
`audit.py`, validated by a system check, so a new action needs no migration."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0011_admin_list_indexes"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="auditevent",
            name="accounts_auditevent_action_valid",
        ),
        migrations.RenameIndex(
            model_name="auditevent",
            new_name="common_audit_customer_idx",
            old_name="accounts_audit_customer_idx",
        ),
        migrations.RenameIndex(
            model_name="auditevent",
            new_name="common_audit_object_idx",
            old_name="accounts_audit_object_idx",
        ),
        migrations.AlterModelTable(
            name="auditevent",
            table="common_auditevent",
        ),
        # Only the state: the table stays, now under common's name.
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
