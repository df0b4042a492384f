# DnsPlan and DnsSubscription are gone: billing 0002 made them catalogue products and
# provisioning services (issue 13).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('dns', '0005_dnsallowance'),
        ('billing', '0002_dns_plans_become_products'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='dnssubscription',
            name='customer',
        ),
        migrations.RemoveField(
            model_name='dnssubscription',
            name='plan',
        ),
        migrations.DeleteModel(
            name='DnsSubscription',
        ),
        migrations.DeleteModel(
            name='DnsPlan',
        ),
    ]
