"""TokenCredit is TokenPurchase, the name the dual-wallet issue uses (staff grants are
recorded the same way, with source "staff"); constraints renamed to match."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0007_token_and_purchase_audit_actions"),
        ("credits", "0003_token_credits"),
        ("invoices", "0005_credit_and_token_purchase_kinds"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="tokencredit", name="credits_tokencredit_positive"),
        migrations.RemoveConstraint(
            model_name="tokencredit", name="credits_tokencredit_purchase_has_invoice"
        ),
        migrations.RemoveConstraint(
            model_name="tokencredit", name="credits_tokencredit_virtfusion_id_unique"
        ),
        migrations.RenameModel(old_name="TokenCredit", new_name="TokenPurchase"),
        migrations.AddConstraint(
            model_name="tokenpurchase",
            constraint=models.CheckConstraint(
                condition=models.Q(("tokens__gt", 0)), name="credits_tokenpurchase_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="tokenpurchase",
            constraint=models.CheckConstraint(
                condition=models.Q(("source", "staff"), ("invoice__isnull", False), _connector="OR"),
                name="credits_tokenpurchase_purchase_has_invoice",
            ),
        ),
        migrations.AddConstraint(
            model_name="tokenpurchase",
            constraint=models.UniqueConstraint(
                condition=models.Q(("virtfusion_credit_id__isnull", False)),
                fields=("virtfusion_credit_id",),
                name="credits_tokenpurchase_virtfusion_id_unique",
            ),
        ),
    ]
