"""A WordPress site's custom domain set up in one click through the customer's own DNS zone
in this portal: the zone gets the record that points the name at the site's proxy (`A
PROXYSRV`, which the DNS service serves as DNS_PROXY_IP, or the proxy's own address), and
the site's add-domain action is requested with a proof that the portal did it, so it does
not wait for DNS to serve the new record. Provisioning and dnszones stay independent of each
other; this flow, above both, joins them."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from accounts.models import Customer, User
from billing_portal.common.request import RequestMeta
from dnszones import services as dns_services
from dnszones.models import Zone
from dnszones.selectors import records_of_zone, zones_for_customer
from dnszones.validation import PROXY_ALIAS
from provisioning.models import ProvisioningOperation
from provisioning.services.actions import ActionRefused, service_action_request
from provisioning.services.site_domains import site_domain_normalize, site_proxy_ip, zone_proof

ADDRESS_TYPES = ("A", "AAAA", "CNAME")


def site_zone_names(*, customer: Customer) -> list[str]:
    """The customer's zones here, whose names a site's domain can be set up under."""
    return list(zones_for_customer(customer=customer).values_list("name", flat=True))


def _zone_for(customer: Customer, domain: str) -> Zone | None:
    """The customer's zone holding `domain` (the longest match: sub.example.com's own zone
    before example.com's)."""
    names = [
        z for z in site_zone_names(customer=customer) if domain == z or domain.endswith(f".{z}")
    ]
    if not names:
        return None
    return Zone.objects.get(customer=customer, name=max(names, key=len))


def _point_at_proxy(
    customer: Customer, zone: Zone, domain: str, proxy: str, actor: User | None
) -> None:
    name = "@" if domain == zone.name else domain[: -len(zone.name) - 1]
    content = PROXY_ALIAS if proxy == settings.DNS_PROXY_IP else proxy
    here = records_of_zone(zone=zone).filter(name=name, type__in=ADDRESS_TYPES)
    if here.filter(type="A", content__in=(PROXY_ALIAS, proxy)).exists():
        return  # it points there already
    if here.exists():
        raise ActionRefused(
            f"{domain} has other address records in your zone {zone.name}: change them to "
            f"{PROXY_ALIAS} on the zone's page, then add the domain."
        )
    dns_services.record_add(
        customer=customer,
        zone_id=zone.pk,
        name=name,
        type="A",
        ttl=settings.DNS_DEFAULT_TTL,
        content=content,
        actor=actor,
    )


def site_domain_add_via_zone(
    *,
    customer: Customer,
    service_id: int,
    domain: str,
    click_key: str,
    actor: User | None = None,
    meta: RequestMeta | None = None,
) -> ProvisioningOperation:
    """Point `domain` (in one of the customer's zones here) at the site's proxy and add it
    to the site (`service_id`, the customer's own). One transaction: a refused action
    (quota, not the customer's service) leaves the zone unchanged. Raises ActionRefused or
    DNSError (messages for the customer), Service.DoesNotExist for another's service."""
    name = site_domain_normalize(domain)
    with transaction.atomic():
        # The service first (its lock ranks before the zone's): another customer's service,
        # or a refused action, stops here before any zone is looked at; a refusal after it
        # rolls the recorded action back.
        operation = service_action_request(
            customer=customer,
            service_id=service_id,
            action="add_domain",
            params={"domain": name, "zone_proof": zone_proof(service_id=service_id, domain=name)},
            click_key=click_key,
            actor=actor,
            meta=meta,
        )
        zone = _zone_for(customer, name)
        if zone is None:
            raise ActionRefused(
                f"You have no DNS zone here that holds {name}: add its zone on the DNS page "
                "first, or point the domain at the site at your DNS provider."
            )
        _point_at_proxy(customer, zone, name, site_proxy_ip(operation.service), actor)
    return operation
