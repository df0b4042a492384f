"""Does a custom domain of a WordPress site point at the site's reverse proxy? Checked before
the domain is sent to the site backend, so a customer hears what to fix at once instead of a
failed operation. Two checkers, chosen by SITE_DOMAIN_CHECK (empty: `demo` with the local DNS
backend, the embedded default, else `resolver`), as for DNS zones (dnszones.delegation):

- `resolver` asks DNS with dnspython for the domain's A records: SITE_DOMAIN_RESOLVER when set
  (host or host:port; in tests a local server) else the system resolver;
- `demo` asks nobody: names under DNS_DEMO_DOMAINS (.test, .example) count as pointing at the
  proxy, anything else is refused, so `make run` works on a machine without network.

The lookup runs in the add-domain action's `clean`, before anything is recorded (so a
domain that does not point here is a message, not a failed operation); it holds the
service's row lock meanwhile, which only other actions on the same site wait for, and it
gives up after TIMEOUT seconds.

A domain set up through the customer's own zone in this portal (billing.services.site_domains
adds the `PROXYSRV` record) carries a signed proof instead: the record is ours, and DNS
may not serve it yet."""

from __future__ import annotations

import dns.exception
import dns.resolver
from django.conf import settings
from django.core import signing

from billing_portal.common.hostnames import domain_name_ascii
from provisioning.models import Service
from provisioning.services.actions import ActionRefused

TIMEOUT = 4.0
PROOF_SALT = "provisioning.site-domain-zone"
PROOF_MAX_AGE = 600  # seconds: the proof is made and used in one request


def site_domain_normalize(raw: str) -> str:
    try:
        return domain_name_ascii(raw)
    except ValueError as exc:
        raise ActionRefused(f"{raw.strip()!r} is not a domain name you can own.") from exc


def site_proxy_ip(service: Service) -> str:
    """The address custom domains of the site must point at: its server's public IP (the
    reverse proxy the backend puts in front of its sites), else DNS_PROXY_IP."""
    options = service.server.options if service.server else {}
    return str(options.get("public_ip") or settings.DNS_PROXY_IP)


def zone_proof(*, service_id: int, domain: str) -> str:
    """A token saying the portal itself pointed `domain` at the site's proxy (in the
    customer's zone here), for `service_id`'s add-domain action."""
    return signing.dumps({"service": service_id, "domain": domain}, salt=PROOF_SALT)


def zone_proof_valid(proof: str, *, service_id: int, domain: str) -> bool:
    try:
        data = signing.loads(proof, salt=PROOF_SALT, max_age=PROOF_MAX_AGE)
    except signing.BadSignature:
        return False
    return bool(data == {"service": service_id, "domain": domain})


def _is_demo_domain(domain: str) -> bool:
    suffixes = [s.strip().strip(".").lower() for s in settings.DNS_DEMO_DOMAINS if s.strip(". ")]
    return any(domain == s or domain.endswith(f".{s}") for s in suffixes)


def _checker() -> str:
    return settings.SITE_DOMAIN_CHECK or ("demo" if settings.DNS_BACKEND == "local" else "resolver")


def _resolver() -> dns.resolver.Resolver:
    value = settings.SITE_DOMAIN_RESOLVER.strip()
    if not value:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "53")
    resolver.nameservers = [host]
    resolver.port = int(port or 53)
    return resolver


def addresses_of(domain: str) -> set[str]:
    """The IPv4 addresses DNS gives for `domain` (CNAMEs followed); raises ActionRefused
    with what to fix when there are none."""
    try:
        answer = _resolver().resolve(domain, "A", lifetime=TIMEOUT)
    except dns.resolver.NXDOMAIN as exc:
        raise ActionRefused(f"{domain} does not exist in DNS: check the spelling.") from exc
    except dns.resolver.NoAnswer as exc:
        raise ActionRefused(f"{domain} has no A record yet.") from exc
    except (dns.exception.DNSException, OSError) as exc:
        raise ActionRefused(
            f"We could not look up {domain} right now ({type(exc).__name__}); "
            "please try again in a few minutes."
        ) from exc
    return {r.to_text() for r in answer}


def domain_points_at_proxy(service: Service, domain: str) -> None:
    """Raise ActionRefused (with what to set) unless `domain` points at the site's proxy."""
    proxy = site_proxy_ip(service)
    advice = (
        f"Point it at {proxy} with an A record at your DNS provider, or set it up through "
        "your DNS zone here in one click."
    )
    if _checker() == "demo":
        if _is_demo_domain(domain):
            return
        raise ActionRefused(
            f"This portal runs with demo DNS: only names under the demo domains (e.g. "
            f"shop.test) can be added, and {domain} is not one."
        )
    try:
        found = addresses_of(domain)
    except ActionRefused as refusal:
        raise ActionRefused(f"{refusal.message} {advice}") from refusal
    if proxy not in found:
        shown = ", ".join(sorted(found))
        raise ActionRefused(f"{domain} points at {shown}, not at this site. {advice}")
