"""The data step of the staff-role migration (billing/0007_staff_roles): create every app's
permissions now (they are normally made after `migrate` ends, by post_migrate), then apply
the role table (accounts/roles.py)."""

from django.contrib.auth.management import create_permissions

from accounts.roles import roles_sync


def seed_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        # create_permissions skips app configs without a models module; the historical
        # registry's have none, so mark them for the call.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
        remove=False,  # an existing group of a role's name keeps what staff gave it
    )
