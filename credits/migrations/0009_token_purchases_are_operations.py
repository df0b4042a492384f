"""Token purchases become operations of the kernel (billing_portal.common.models.Operation):
the columns it has and they lacked, filled from what the rows say today.

- idempotency_key: "token-purchase:<id>" for existing rows (new rows get a random one), made
  unique and required by 0010 (PostgreSQL alters no table with updates pending in the
  same transaction);
- started_at: a call in flight (sending, removing) started when the row last changed, as the
  sweeper measured it until now, so it is not judged stuck any earlier than before;
- finished_at: a delivered row's delivery finished when it was delivered.
"""

from django.db import migrations, models
from django.db.models import F, Value
from django.db.models.functions import Cast, Concat


def backfill(apps, schema_editor):
    TokenPurchase = apps.get_model('credits', 'TokenPurchase')
    TokenPurchase.objects.update(
        idempotency_key=Concat(Value('token-purchase:'), Cast('pk', models.CharField()))
    )
    TokenPurchase.objects.filter(status__in=['sending', 'removing']).update(
        started_at=F('updated_at')
    )
    TokenPurchase.objects.filter(delivered_at__isnull=False).update(finished_at=F('delivered_at'))


class Migration(migrations.Migration):

    dependencies = [
        ('credits', '0008_admin_list_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='tokenpurchase',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='tokenpurchase',
            name='finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='tokenpurchase',
            name='idempotency_key',
            field=models.CharField(max_length=200, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
