"""Every token purchase has its idempotency key now (0009): unique and required."""

import uuid

from django.db import migrations, models


def _token_purchase_key():
    # The model's default, kept here since the model moved to billing (issue 13).
    return f"token-purchase:{uuid.uuid4().hex}"


class Migration(migrations.Migration):

    dependencies = [
        ('credits', '0009_token_purchases_are_operations'),
    ]

    operations = [
        migrations.AlterField(
            model_name='tokenpurchase',
            name='idempotency_key',
            field=models.CharField(
                default=_token_purchase_key, max_length=200, unique=True
            ),
        ),
    ]
