"""The permission to act as a customer (state only: no schema). The staff roles that hold it
are seeded by billing/0007_staff_roles, which runs after every app's latest migration (so
their permissions exist) without tying accounts' own migrations to the other apps'."""

from django.db import migrations



class Migration(migrations.Migration):
    dependencies = [("accounts", "0014_second_factor")]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": ["name", "id"],
                "permissions": [("act_as_customer", "Can act as the customer in the client area")],
            },
        ),
    ]
