# DNS plans become catalogue products billed as provisioning services (issue 13: one
# subscription engine). Each DnsPlan becomes a product of the `dns` module in a hidden "DNS"
# group, with its monthly price; the products are placed on the "DNS zones" server (the
# portal's own zone service). Each DnsSubscription becomes a Service of that product, with
# the paid period kept (next_due_date = the subscription's period_end, the first day not
# paid for), and the customer's DnsAllowance (what the plan allows, whether zones are
# served). Zones and records are not touched. In billing because it spans apps; dns 0006
# then removes DnsPlan and DnsSubscription.
#
# active and grace (renewal overdue, still served) -> active; suspended -> suspended;
# cancelled -> terminated. Auto-renewal off -> ends_on = period_end (cancelled at period
# end). A grace or suspended subscription's unpaid period is billed by the next billing run
# (a renewal from period_end), with the common reminders, suspension and termination.


from django.db import migrations
from django.db.models import F

GROUP_SLUG = "dns-plans"
SERVER_GROUP = "DNS zones"
SERVER = "dns-zones"
STATUS = {
    "active": "active",
    "grace": "active",
    "suspended": "suspended",
    "cancelled": "terminated",
}
SERVING = ("active", "grace")


def _slug(Product, name):
    base = f"dns-plan-{''.join(c if c.isalnum() else '-' for c in name.lower()).strip('-')}"
    slug, n = base, 1
    while Product.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _products(apps, server_group):
    """DnsPlan id -> the product it became."""
    DnsPlan = apps.get_model("dns", "DnsPlan")
    Product = apps.get_model("catalogue", "Product")
    ProductGroup = apps.get_model("catalogue", "ProductGroup")
    ProductPrice = apps.get_model("catalogue", "ProductPrice")
    ProductPlacement = apps.get_model("provisioning", "ProductPlacement")
    group, _ = ProductGroup.objects.get_or_create(
        slug=GROUP_SLUG, defaults={"name": "DNS", "is_visible": False}
    )
    products = {}
    for plan in DnsPlan.objects.order_by("sort_order", "pk"):
        product = Product.objects.create(
            group=group,
            name=plan.name,
            slug=_slug(Product, plan.name),
            kind="dns_plan",
            description=plan.description,
            module="dns",
            module_settings={
                "plan": plan.name,
                "domain_limit": plan.domain_limit,
                "record_limit": plan.record_limit,
            },
            is_visible=plan.is_active,
            sort_order=plan.sort_order,
        )
        ProductPrice.objects.create(
            product=product,
            cycle="monthly",
            currency=plan.currency,
            price=plan.price,
            setup_fee=plan.price * 0,
        )
        ProductPlacement.objects.create(product=product, server_group=server_group)
        products[plan.pk] = product
    return products


def _server(apps):
    ServerGroup = apps.get_model("provisioning", "ServerGroup")
    Server = apps.get_model("provisioning", "Server")
    group, _ = ServerGroup.objects.get_or_create(name=SERVER_GROUP)
    server, _ = Server.objects.get_or_create(
        name=SERVER,
        defaults={
            "group": group,
            "module": "dns",
            # The portal's own zone service: nothing is called at this address.
            "base_url": "http://127.0.0.1/",
            "capacity_accounts": 1_000_000,
            "location": "Portal",
        },
    )
    return group, server


def forwards(apps, schema_editor):
    DnsSubscription = apps.get_model("dns", "DnsSubscription")
    DnsAllowance = apps.get_model("dns", "DnsAllowance")
    Service = apps.get_model("provisioning", "Service")
    Server = apps.get_model("provisioning", "Server")
    group, server = _server(apps)
    products = _products(apps, group)
    live = 0
    for sub in DnsSubscription.objects.select_related("plan").order_by("pk"):
        status = STATUS[sub.status]
        plan = sub.plan
        service = Service.objects.create(
            customer_id=sub.customer_id,
            product=products[plan.pk],
            cycle="monthly",
            currency=plan.currency,
            recurring_amount=plan.price,
            status=status,
            server=server,
            next_due_date=sub.period_end,
            ends_on=None if sub.auto_renew or status == "terminated" else sub.period_end,
            created_at=sub.started_at,
            activated_at=sub.last_renewed_at or sub.started_at,
            suspended_at=sub.last_renewed_at if status == "suspended" else None,
            provision_details={"migrated_from_dns_subscription": sub.pk},
        )
        reference = f"svc-{service.pk}"  # Service.reference
        Service.objects.filter(pk=service.pk).update(external_id=reference)
        if status == "terminated":
            Service.objects.filter(pk=service.pk).update(terminated_at=F("created_at"))
        else:
            live += 1
        DnsAllowance.objects.create(
            customer_id=sub.customer_id,
            service_ref=reference,
            plan_name=plan.name,
            domain_limit=plan.domain_limit,
            record_limit=plan.record_limit,
            serving=sub.status in SERVING,
        )
    Server.objects.filter(pk=server.pk).update(current_accounts=F("current_accounts") + live)


def backwards(apps, schema_editor):
    """The subscriptions and plans are still there (dns 0006 removes them later): drop what
    this made."""
    DnsAllowance = apps.get_model("dns", "DnsAllowance")
    Service = apps.get_model("provisioning", "Service")
    ProvisioningOperation = apps.get_model("provisioning", "ProvisioningOperation")
    Product = apps.get_model("catalogue", "Product")
    ProductGroup = apps.get_model("catalogue", "ProductGroup")
    Server = apps.get_model("provisioning", "Server")
    ServerGroup = apps.get_model("provisioning", "ServerGroup")
    DnsAllowance.objects.all().delete()
    migrated = Service.objects.filter(product__module="dns")
    ProvisioningOperation.objects.filter(service__in=migrated).delete()
    migrated.delete()
    Product.objects.filter(module="dns", group__slug=GROUP_SLUG).delete()
    ProductGroup.objects.filter(slug=GROUP_SLUG, products__isnull=True).delete()
    Server.objects.filter(name=SERVER, services__isnull=True).delete()
    ServerGroup.objects.filter(name=SERVER_GROUP, servers__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0001_billingrun_from_invoices"),
        ("catalogue", "0001_initial"),
        ("provisioning", "0011_service_ends_on"),
        ("dns", "0005_dnsallowance"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
