"""The kernel takes up AuditEvent from accounts (see accounts' 0012_auditevent_to_common,
which renamed the table to `common_auditevent` and its indexes): state only, not a row
touched. Then the action's format check (which actions exist is the apps' declaration),
and the content type follows the model, so permissions granted on audit events (and admin
log entries) stay attached to it."""

import django.core.serializers.json
import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def content_type_to(app_label: str, other: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        db = schema_editor.connection.alias
        types = ContentType.objects.using(db)
        if not types.filter(app_label=app_label, model="auditevent").exists():
            types.filter(app_label=other, model="auditevent").update(app_label=app_label)

    return move


class Migration(migrations.Migration):

    dependencies = [
        ("common", "0002_portal_backups"),
        ("accounts", "0012_auditevent_to_common"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("actor_label", models.CharField(blank=True, max_length=254)),
                        ("action", models.CharField(db_index=True, max_length=64)),
                        ("object_type", models.CharField(blank=True, max_length=100)),
                        ("object_id", models.CharField(blank=True, max_length=64)),
                        ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                        ("user_agent", models.CharField(blank=True, max_length=512)),
                        ("details", models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder)),
                        ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("customer", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="audit_events", to="accounts.customer")),
                    ],
                    options={
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["customer", "-created_at"], name="common_audit_customer_idx"),
                            models.Index(fields=["object_type", "object_id"], name="common_audit_object_idx"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("action__contains", "."), ("action", django.db.models.functions.text.Lower("action"))),
                name="common_auditevent_action_format",
            ),
        ),
        migrations.RunPython(content_type_to("common", "accounts"), content_type_to("accounts", "common")),
    ]
