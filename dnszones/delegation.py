"""Is a domain delegated to our name servers? Asked with dnspython, of DNS_RESOLVER when set
(a resolver, or in tests an authoritative server that holds the parent zone) else of the
system resolver. NS records are read from the answer and, for a referral, from the authority
section."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
from django.conf import settings

from dnszones.errors import NotDelegated

TIMEOUT = 5.0


def _server() -> tuple[str, int] | None:
    value = settings.DNS_RESOLVER.strip()
    if not value:
        return None
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "53")
    return host, int(port or 53)


def nameservers_of(domain: str) -> set[str]:
    """The NS names (lower-case, no trailing dot) the resolver gives for `domain`."""
    server = _server()
    if server is None:
        answer = dns.resolver.resolve(domain, "NS", lifetime=TIMEOUT)
        return {r.target.to_text().rstrip(".").lower() for r in answer}
    query = dns.message.make_query(domain, dns.rdatatype.NS)
    query.flags |= dns.flags.RD
    response = dns.query.udp(query, server[0], port=server[1], timeout=TIMEOUT)
    names = set()
    owner = domain.rstrip(".").lower() + "."
    for rrset in (*response.answer, *response.authority):
        if rrset.rdtype == dns.rdatatype.NS and rrset.name.to_text().lower() == owner:
            names |= {r.target.to_text().rstrip(".").lower() for r in rrset}
    return names


def delegation_check(domain: str) -> None:
    """Raise NotDelegated (with what was found) unless every required name server is among
    the domain's delegation."""
    required = {ns.rstrip(".").lower() for ns in settings.DNS_REQUIRED_NAMESERVERS}
    try:
        found = nameservers_of(domain)
    except (dns.exception.DNSException, OSError) as exc:
        raise NotDelegated(
            f"We could not look up the name servers of {domain} right now "
            f"({type(exc).__name__}); please try again in a few minutes."
        ) from exc
    missing = required - found
    if missing:
        shown = ", ".join(sorted(found)) or "none"
        raise NotDelegated(
            f"{domain} is not delegated to our name servers yet. Set them at your registrar to "
            f"{', '.join(sorted(required))} (now: {shown}); changes can take a few hours."
        )
