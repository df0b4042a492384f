"""The default departments, Sales, Billing and Technical, each with its own staff group;
staff edit their addresses (these are placeholders) and add others in the admin."""

from django.db import migrations

DEFAULTS = (
    ("Sales", "sales@localhost", "Support: Sales"),
    ("Billing", "billing@localhost", "Support: Billing"),
    ("Technical", "technical@localhost", "Support: Technical"),
)


def create(apps, schema_editor):
    Department = apps.get_model("support", "Department")
    Group = apps.get_model("auth", "Group")
    for position, (name, email, group_name) in enumerate(DEFAULTS):
        group, _ = Group.objects.get_or_create(name=group_name)
        Department.objects.get_or_create(
            name=name, defaults={"email": email, "group": group, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    # Nothing to undo row by row: unapplying 0001 next drops the table (the groups stay, as
    # staff may have given them to people).
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
