"""Is a domain delegated to our name servers? Two checkers, chosen by DNS_DELEGATION_CHECK
(empty: `demo` with the local backend, the embedded default, else `resolver`):

- `resolver` asks DNS with dnspython: DNS_RESOLVER when set (a resolver, or in tests an
  authoritative server that holds the parent zone) else the system resolver. NS records are
  read from the answer and, for a referral, from the authority section. A name that does not
  exist (NXDOMAIN) is not registered, which no waiting fixes.
- `demo` asks nobody: names under DNS_DEMO_DOMAINS (reserved names such as `.test` and
  `.example`, which no registrar sells) count as delegated, anything else is refused. It is
  what `make run` uses, so demo zones work on a machine without any network.
"""

from __future__ import annotations

from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
from django.conf import settings

from dnszones.errors import NotDelegated

TIMEOUT = 5.0


class _NoSuchDomain(Exception):
    """The DNS says the name does not exist."""


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
        try:
            answer = dns.resolver.resolve(domain, "NS", lifetime=TIMEOUT)
        except dns.resolver.NXDOMAIN as exc:
            raise _NoSuchDomain from exc
        except dns.resolver.NoAnswer:
            return set()  # the name exists but has no delegation of its own
        return {r.target.to_text().rstrip(".").lower() for r in answer}
    query = dns.message.make_query(domain, dns.rdatatype.NS)
    query.flags |= dns.flags.RD
    response = dns.query.udp(query, server[0], port=server[1], timeout=TIMEOUT)
    if response.rcode() == dns.rcode.NXDOMAIN:
        raise _NoSuchDomain
    if response.rcode() != dns.rcode.NOERROR:
        raise dns.exception.DNSException(dns.rcode.to_text(response.rcode()))
    names = set()
    owner = domain.rstrip(".").lower() + "."
    for rrset in (*response.answer, *response.authority):
        if rrset.rdtype == dns.rdatatype.NS and rrset.name.to_text().lower() == owner:
            names |= {r.target.to_text().rstrip(".").lower() for r in rrset}
    return names


def _required() -> set[str]:
    return {ns.rstrip(".").lower() for ns in settings.DNS_REQUIRED_NAMESERVERS}


def resolver_delegation_check(domain: str) -> None:
    """Raise NotDelegated (with what was found) unless every required name server is among
    the domain's delegation."""
    required = _required()
    try:
        found = nameservers_of(domain)
    except _NoSuchDomain as exc:
        raise NotDelegated(
            f"{domain} is not registered: DNS has no such domain. Check the spelling, or "
            f"register it at a registrar and set its name servers to "
            f"{', '.join(sorted(required))}."
        ) from exc
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


def _demo_suffixes() -> list[str]:
    return [s.strip().strip(".").lower() for s in settings.DNS_DEMO_DOMAINS if s.strip(". ")]


def is_demo_domain(domain: str) -> bool:
    name = domain.rstrip(".").lower()
    return any(name == s or name.endswith(f".{s}") for s in _demo_suffixes())


def demo_delegation_check(domain: str) -> None:
    """The stand-in for a machine without DNS: demo domains are delegated, nothing else."""
    if is_demo_domain(domain):
        return
    shown = " or ".join(f".{s}" for s in _demo_suffixes()) or "(none are configured)"
    raise NotDelegated(
        f"This portal runs with demo DNS, which takes only demo domains: names under "
        f"{shown}, e.g. shop.{(_demo_suffixes() or ['test'])[0]}. {domain} is not one."
    )


CHECKERS: dict[str, Callable[[str], None]] = {
    "resolver": resolver_delegation_check,
    "demo": demo_delegation_check,
}


def delegation_checker() -> Callable[[str], None]:
    name = settings.DNS_DELEGATION_CHECK or (
        "demo" if settings.DNS_BACKEND == "local" else "resolver"
    )
    return CHECKERS[name]


def demo_domains_in_use() -> list[str]:
    """The demo domains customers can add, when the demo checker is the one in use."""
    return _demo_suffixes() if delegation_checker() is demo_delegation_check else []


def delegation_check(domain: str) -> None:
    """Raise NotDelegated (with a message for the customer) unless `domain` is delegated to
    our name servers, by the configured checker."""
    delegation_checker()(domain)
