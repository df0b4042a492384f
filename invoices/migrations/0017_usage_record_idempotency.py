"""Usage records reported through the staff API (issue 17) carry the caller's idempotency key,
unique per service, and who reported them; existing rows keep none (NULLs never collide)."""


import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0016_cancel_renewals'),
        ('provisioning', '0021_automatic_backup_operation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='usagerecord',
            name='idempotency_key',
            field=models.CharField(blank=True, editable=False, max_length=300, null=True),
        ),
        migrations.AddField(
            model_name='usagerecord',
            name='recorded_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='usagerecord',
            index=models.Index(fields=['service', '-recorded_at', '-id'], name='invoices_usage_recent_idx'),
        ),
        migrations.AddConstraint(
            model_name='usagerecord',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)), fields=('service', 'idempotency_key'), name='invoices_usagerecord_key_unique_per_service'),
        ),
    ]
