"""AutomaticBackup becomes an outbound operation of the kernel (billing_portal.common
.operations): it takes the operations' idempotency key (the rows there get the key the due
run writes, `auto_backup:<service>:<slot>`, unique like the pair it names) and their
nullable `next_attempt_at`. Every row and value is kept."""

from django.db import migrations, models

import provisioning.models


def _keys(apps, schema_editor):
    AutomaticBackup = apps.get_model("provisioning", "AutomaticBackup")
    rows = AutomaticBackup.objects.filter(idempotency_key__isnull=True).only("service_id", "slot")
    for row in rows.iterator():
        row.idempotency_key = f"auto_backup:{row.service_id}:{row.slot:%Y%m%d}"
        row.save(update_fields=["idempotency_key"])


class Migration(migrations.Migration):

    dependencies = [
        ("provisioning", "0020_automatic_backups"),
    ]

    operations = [
        # Added empty first: a callable default would be computed once for every row.
        migrations.AddField(
            model_name="automaticbackup",
            name="idempotency_key",
            field=models.CharField(max_length=100, null=True),
        ),
        migrations.RunPython(_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="automaticbackup",
            name="idempotency_key",
            field=models.CharField(
                default=provisioning.models.automatic_backup_key, max_length=100, unique=True
            ),
        ),
        migrations.AlterField(
            model_name="automaticbackup",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
