"""Customer zones and records, what the customer's DNS plan allows, and the operations that
push zones to the DNS server. DNS plans are catalogue products (module "dns").

The portal's database is the truth for zones and records; the DNS server is told through
`DnsOperation` rows (retried like provisioning operations) and repaired by `dns_reconcile`.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from billing_portal.common.models import Operation, OperationStatus


class DnsAllowance(models.Model):
    """What the customer's DNS plan allows, and whether their zones are served. A DNS plan is
    a catalogue product billed as a provisioning `Service` (module "dns"); this row is that
    module's "panel account", written only by the module (dnszones.module: create, package
    change, suspend, unsuspend, terminate) and read by the zone rules."""

    customer = models.OneToOneField(
        "accounts.Customer", on_delete=models.PROTECT, related_name="dns_allowance"
    )
    # The provisioning Service.reference ("svc-12") this allowance belongs to: a later DNS
    # service of the customer takes it over, and calls for an older one change nothing.
    service_ref = models.CharField(max_length=40)
    plan_name = models.CharField(max_length=150)
    domain_limit = models.PositiveIntegerField()
    record_limit = models.PositiveIntegerField(help_text="Records per zone.")
    serving = models.BooleanField(default=True, help_text="Off: zones taken off, records kept.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer_id"]

    def __str__(self) -> str:
        state = "serving" if self.serving else "not serving"
        return f"{self.customer}: {self.plan_name} ({state})"


class Zone(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, related_name="zones"
    )
    # ASCII (punycode) and without the trailing dot; unique across customers.
    name = models.CharField(max_length=253, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    serial = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [  # the customer's zones, by name
            models.Index(fields=["customer", "name"], name="dns_zone_customer_idx"),
        ]
        permissions = [("reconcile_zone", "Can compare zones with the DNS server and repair them")]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        import idna

        try:
            return idna.decode(self.name)
        except idna.IDNAError:
            return self.name


class Record(models.Model):
    class Type(models.TextChoices):
        A = "A", "A"
        AAAA = "AAAA", "AAAA"
        CNAME = "CNAME", "CNAME"
        MX = "MX", "MX"
        NS = "NS", "NS"
        TXT = "TXT", "TXT"
        SRV = "SRV", "SRV"
        CAA = "CAA", "CAA"

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="records")
    name = models.CharField(max_length=253, help_text='Relative to the zone; "@" is the apex.')
    type = models.CharField(max_length=6, choices=Type.choices)
    ttl = models.PositiveIntegerField()
    # The record's data in zone-file form (MX "10 mail.example.com.", TXT quoted strings);
    # PROXYSRV is kept as written and pushed as the proxy's address.
    content = models.CharField(max_length=4200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "type", "content"]
        constraints = [
            models.UniqueConstraint(
                fields=["zone", "name", "type", "content"], name="dns_record_unique_content"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} {self.type} {self.content}"


class DnsOperation(Operation):
    """One push to the DNS server, recorded before it is made and run by the operation
    kernel; the push reads the zone's current state when it runs, so a late or repeated
    push still writes the latest."""

    class Kind(models.TextChoices):
        CREATE_ZONE = "create_zone", "Create zone"
        PUSH_RRSET = "push_rrset", "Push record set"
        DELETE_ZONE = "delete_zone", "Delete zone"

    Status = OperationStatus

    zone_name = models.CharField(max_length=253, db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    rrset_name = models.CharField(max_length=253, blank=True)
    rrset_type = models.CharField(max_length=6, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="dns_operation_due_idx"),
            models.Index(fields=["-created_at", "-id"], name="dns_operation_created_idx"),
        ]

    def __str__(self) -> str:
        target = f" {self.rrset_name} {self.rrset_type}" if self.rrset_name else ""
        return f"{self.get_kind_display()} {self.zone_name}{target} ({self.get_status_display()})"
