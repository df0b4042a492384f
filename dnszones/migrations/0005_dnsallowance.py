# What a customer's DNS plan allows, written by the `dns` provisioning module (issue 13: DNS
# plans become catalogue products billed as services). billing 0002 fills it from the DNS
# subscriptions; 0006 then removes DnsPlan and DnsSubscription.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('dns', '0004_admin_list_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='DnsAllowance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('service_ref', models.CharField(max_length=40)),
                ('plan_name', models.CharField(max_length=150)),
                ('domain_limit', models.PositiveIntegerField()),
                ('record_limit', models.PositiveIntegerField(help_text='Records per zone.')),
                ('serving', models.BooleanField(default=True, help_text='Off: zones taken off, records kept.')),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('customer', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='dns_allowance', to='accounts.customer')),
            ],
            options={
                'ordering': ['customer_id'],
            },
        ),
    ]
