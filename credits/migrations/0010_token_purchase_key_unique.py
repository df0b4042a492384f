"""Every token purchase has its idempotency key now (0009): unique and required."""

from django.db import migrations, models

import credits.models


class Migration(migrations.Migration):

    dependencies = [
        ('credits', '0009_token_purchases_are_operations'),
    ]

    operations = [
        migrations.AlterField(
            model_name='tokenpurchase',
            name='idempotency_key',
            field=models.CharField(
                default=credits.models._token_purchase_key, max_length=200, unique=True
            ),
        ),
    ]
