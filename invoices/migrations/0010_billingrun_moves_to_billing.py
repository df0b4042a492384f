# The BillingRun model moves to the billing app (issue 13). Only the state changes here: the
# table, its rows and its content type are taken over by billing's 0001_billingrun_from_invoices,
# which this waits for so the table is never without an owner.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0009_admin_list_indexes'),
        ('billing', '0001_billingrun_from_invoices'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='BillingRun')],
            database_operations=[],
        ),
    ]
