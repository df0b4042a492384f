# BillingRun moves here from invoices (issue 13), with its rows: billing takes the model over
# in the state on the existing table, renames the table to billing_billingrun, and moves the
# model's content type so staff permissions and admin history on it stay as they are.

import django.utils.timezone
from django.db import migrations, models


def _content_type_moves(from_label, to_label):
    def move(apps, schema_editor):
        ContentType = apps.get_model('contenttypes', 'ContentType')
        db = schema_editor.connection.alias
        types = ContentType.objects.using(db)
        if types.filter(app_label=to_label, model='billingrun').exists():
            return  # already there (created by a post_migrate of this app): nothing to carry
        types.filter(app_label=from_label, model='billingrun').update(app_label=to_label)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('invoices', '0009_admin_list_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='BillingRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('as_of', models.DateField(help_text='The day the run billed for.')),
                        ('status', models.CharField(choices=[('running', 'Running'), ('completed', 'Completed'), ('completed_with_errors', 'Completed with errors')], default='running', max_length=24)),
                        ('counts', models.JSONField(blank=True, default=dict)),
                        ('errors', models.JSONField(blank=True, default=list)),
                        ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'ordering': ['-started_at', '-id'],
                        'db_table': 'invoices_billingrun',
                    },
                ),
            ],
            database_operations=[],
        ),
        # table=None: the default name, billing_billingrun (a rename; the rows stay).
        migrations.AlterModelTable(name='billingrun', table=None),
        migrations.RunPython(
            _content_type_moves('invoices', 'billing'), _content_type_moves('billing', 'invoices')
        ),
    ]
