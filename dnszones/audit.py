"""The audit actions the DNS app declares: the `dns.*` namespace."""

from billing_portal.common.audit import AuditActions


class DnsAudit(AuditActions):
    DNS_PLAN_BOUGHT = "dns.plan_bought", "DNS plan bought or changed"
    DNS_PLAN_CANCELLED = "dns.plan_cancelled", "DNS plan auto-renewal stopped"
    DNS_ZONE_CREATED = "dns.zone_created", "DNS zone created"
    DNS_ZONE_DELETED = "dns.zone_deleted", "DNS zone deleted"
    DNS_RECORDS_CHANGED = "dns.records_changed", "DNS records changed"
