"""DNS server adapters: network I/O only, chosen by DNS_BACKEND."""

from __future__ import annotations

from django.conf import settings

from dnszones.backends.base import DnsBackend


def dns_backend() -> DnsBackend:
    if settings.DNS_BACKEND == "powerdns":
        from dnszones.backends.powerdns import PowerDnsBackend

        return PowerDnsBackend(
            base_url=settings.DNS_POWERDNS_URL,
            api_key=settings.DNS_POWERDNS_API_KEY,
            server_id=settings.DNS_POWERDNS_SERVER_ID,
        )
    if settings.DNS_BACKEND == "ispconfig":
        from dnszones.backends.ispconfig import IspConfigBackend

        return IspConfigBackend(
            url=settings.DNS_ISPCONFIG_URL,
            username=settings.DNS_ISPCONFIG_USER,
            password=settings.DNS_ISPCONFIG_PASSWORD,
            client_id=settings.DNS_ISPCONFIG_CLIENT_ID,
            server_id=settings.DNS_ISPCONFIG_SERVER_ID,
        )
    from dnszones.backends.local import LocalBackend

    return LocalBackend()
