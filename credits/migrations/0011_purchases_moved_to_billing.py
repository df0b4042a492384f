"""State only: token purchases and refund shortfalls are billing's now (billing 0004 took
over their tables, renamed `billing_*`, their rows and their content types); credits
forgets them. Nothing is dropped."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0010_token_purchase_key_unique"),
        ("billing", "0004_token_purchases_and_shortfalls_from_credits"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="RefundShortfall"),
                migrations.DeleteModel(name="TokenPurchase"),
            ]
        ),
    ]
