"""State only: plan changes are billing's (billing 0003 took over the model, renamed its table
`billing_servicechange` and moved its content type); provisioning forgets the model. Nothing
is dropped."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_service_change_from_provisioning"),
        ("provisioning", "0012_order_in_catalogue"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ServiceChange")]
        ),
    ]
