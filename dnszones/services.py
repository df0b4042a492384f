"""Writes of the DNS app: what the customer's DNS plan allows (written by the `dns`
provisioning module, dnszones.module: DNS plans are catalogue products billed as services),
zones and records, and the operations that push them to the DNS server.

Every change is written in the portal first and then pushed by a `DnsOperation` (retried with
backoff like provisioning). A push reads the zone as it is when it runs and replaces whole
record sets (all records of one name and type) together with the SOA, whose serial the
portal raises on every change; so pushes are idempotent, and a late or repeated one still
leaves the server as the portal says. Lock order: allowance, then zone.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.db import in_batches, keyset_batches
from billing_portal.common.errors import ExternalServiceError
from billing_portal.common.operations import (
    OperationKind,
    operation_queue,
    operation_run,
    operations_sweep,
)
from dnszones.audit import DnsAudit
from dnszones.backends import dns_backend
from dnszones.backends.base import DnsBackend, RRSet, ZoneData
from dnszones.delegation import delegation_check
from dnszones.errors import DNSError, LimitReached
from dnszones.locks import dns_allowance_lock_for, zone_lock, zones_lock
from dnszones.models import DnsAllowance, DnsOperation, Record, Zone
from dnszones.validation import PROXY_ALIAS, record_clean, zone_name_normalize

logger = logging.getLogger(__name__)

Op = DnsOperation


# --- The DNS plan's allowance (written by the `dns` provisioning module) -------------------


@dataclass(frozen=True)
class Limits:
    """What a DNS plan allows, from its product's module settings."""

    plan_name: str
    domain_limit: int
    record_limit: int


def dns_limits_from_settings(values: dict[str, Any], *, plan_name: str = "") -> Limits:
    """The limits a product's module settings give (validated by the module's settings
    schema when staff save the product; a missing value is a set-up mistake)."""
    try:
        return Limits(
            plan_name or str(values.get("plan") or "DNS"),
            int(values["domain_limit"]),
            int(values["record_limit"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"DNS plan settings need domain_limit and record_limit: {exc}") from exc


def dns_limits_refusal(*, customer_id: int, limits: Limits) -> str:
    """Why the customer's zones do not fit in `limits` ("" when they do): a smaller plan
    must leave the zones and their records within it."""
    zones = Zone.objects.filter(customer_id=customer_id)
    count = zones.count()
    if count > limits.domain_limit:
        return f"{limits.plan_name} allows {limits.domain_limit} domains; you have {count}."
    busiest = max(zones.annotate(n=Count("records")).values_list("n", flat=True), default=0)
    if busiest > limits.record_limit:
        return (
            f"{limits.plan_name} allows {limits.record_limit} records per zone; one of yours "
            f"has {busiest}."
        )
    return ""


@transaction.atomic
def dns_allowance_grant(*, customer_id: int, service_ref: str, limits: Limits) -> DnsAllowance:
    """A DNS service was set up (again): its plan's limits, and the customer's zones served
    (those kept from an earlier plan come back with their records). Safe to repeat."""
    allowance = dns_allowance_lock_for(customer_id)
    values = {
        "service_ref": service_ref,
        "plan_name": limits.plan_name,
        "domain_limit": limits.domain_limit,
        "record_limit": limits.record_limit,
        "serving": True,
    }
    if allowance is None:
        allowance = DnsAllowance.objects.create(customer_id=customer_id, **values)
    else:
        for field, value in values.items():
            setattr(allowance, field, value)
        allowance.save()
    _zones_restore(customer_id)
    return allowance


def _own_allowance(service_ref: str) -> DnsAllowance | None:
    """The allowance `service_ref` holds, locked; None when a later DNS service of the
    customer took it over (or there is none): then the call changes nothing."""
    peek = DnsAllowance.objects.filter(service_ref=service_ref).first()
    if peek is None:
        return None
    allowance = dns_allowance_lock_for(peek.customer_id)
    if allowance is None or allowance.service_ref != service_ref:
        return None
    return allowance


@transaction.atomic
def dns_allowance_change(*, service_ref: str, limits: Limits) -> DnsAllowance | None:
    """The service moved to another plan: its limits from now on."""
    allowance = _own_allowance(service_ref)
    if allowance is None:
        return None
    allowance.plan_name = limits.plan_name
    allowance.domain_limit, allowance.record_limit = limits.domain_limit, limits.record_limit
    allowance.save()
    return allowance


@transaction.atomic
def dns_allowance_serving_set(*, service_ref: str, serving: bool) -> DnsAllowance | None:
    """Suspension and termination (False) take the customer's zones off the DNS server,
    keeping every record; unsuspension (True) serves them again. Safe to repeat."""
    allowance = _own_allowance(service_ref)
    if allowance is None:
        return None
    if allowance.serving != serving:
        allowance.serving = serving
        allowance.save(update_fields=["serving", "updated_at"])
    if serving:
        _zones_restore(allowance.customer_id)
    else:
        _zones_suspend(allowance.customer_id)
    return allowance


def _zones_suspend(customer_id: int) -> None:
    for zone in zones_lock(customer=customer_id, status="active"):
        zone.status = Zone.Status.SUSPENDED
        zone.save(update_fields=["status"])
        _enqueue(zone.name, Op.Kind.DELETE_ZONE)


def _zones_restore(customer_id: int) -> None:
    for zone in zones_lock(customer=customer_id, status="suspended"):
        zone.status = Zone.Status.ACTIVE
        _bump(zone)
        _enqueue(zone.name, Op.Kind.CREATE_ZONE)


# --- Zones and records --------------------------------------------------------------------


def _serving_plan(customer: Customer) -> DnsAllowance:
    allowance = DnsAllowance.objects.filter(customer=customer).first()
    if allowance is None or not allowance.serving:
        raise DNSError("You need an active DNS plan first: buy one on the DNS page.")
    return allowance


def _bump(zone: Zone) -> None:
    """A new SOA serial, YYYYMMDDnn while that grows, else the next number."""
    zone.serial = max(zone.serial + 1, int(timezone.localdate().strftime("%Y%m%d")) * 100)
    zone.save(update_fields=["serial", "status"])


def _enqueue(zone_name: str, kind: str, name: str = "", rtype: str = "") -> Op:
    # Every change gets its own push (they are idempotent; the newest state wins).
    key = f"{zone_name}:{kind}:{name}:{rtype}:{uuid.uuid4().hex}"
    operation = Op.objects.create(
        zone_name=zone_name,
        kind=kind,
        rrset_name=name,
        rrset_type=rtype,
        idempotency_key=key,
        next_attempt_at=timezone.now(),
    )
    operation_queue(DNS_PUSH, operation.pk)
    return operation


def dns_operations_prune() -> int:
    """Delete the DNS pushes that succeeded more than OPERATION_LOG_RETENTION_DAYS ago;
    returns how many. Each push is a one-off (its key has a random part, and a push writes
    the zone as it is then), so nothing looks one up again; failed ones stay for staff."""
    cutoff = timezone.now() - timedelta(days=settings.OPERATION_LOG_RETENTION_DAYS)
    old = Op.objects.filter(status=Op.Status.SUCCEEDED, finished_at__lt=cutoff)
    return in_batches(old, lambda rows: rows.delete()[0])


def zone_create(
    *, customer: Customer, name: str, apex_address: str = "", actor: User | None = None
) -> Zone:
    """A zone for a domain the customer has delegated to us; its apex A record when given.
    The delegation is looked up before the transaction (network I/O holds no locks); the
    checks are made again under the allowance's lock, which also keeps two concurrent
    creations from passing the domain limit together."""
    zone_name = zone_name_normalize(name)
    apex = None
    if apex_address.strip():
        apex = record_clean(
            zone=zone_name, name="@", type="A", ttl=settings.DNS_DEFAULT_TTL, content=apex_address
        )
    _zone_checks(customer, zone_name)
    delegation_check(zone_name)
    with transaction.atomic():
        dns_allowance_lock_for(customer)
        _zone_checks(customer, zone_name)
        try:
            with transaction.atomic():
                zone = Zone.objects.create(customer=customer, name=zone_name)
        except IntegrityError as exc:  # another account created it a moment ago
            raise DNSError(f"{zone_name} is already a zone in another account.") from exc
        _bump(zone)
        if apex is not None:
            Record.objects.create(zone=zone, name="@", type="A", ttl=apex.ttl, content=apex.content)
        _enqueue(zone.name, Op.Kind.CREATE_ZONE)
        audit_record(
            action=DnsAudit.DNS_ZONE_CREATED,
            actor=actor,
            customer=customer,
            target=zone,
            details={"zone": zone.name},
        )
    return zone


def _zone_checks(customer: Customer, zone_name: str) -> None:
    plan = _serving_plan(customer)
    existing = Zone.objects.filter(name=zone_name).first()
    if existing is not None:
        whose = "your account" if existing.customer_id == customer.pk else "another account"
        raise DNSError(f"{zone_name} is already a zone in {whose}.")
    if customer.zones.count() >= plan.domain_limit:
        raise LimitReached(f"Your {plan.plan_name} plan allows {plan.domain_limit} domains.")


def _locked_zone(customer: Customer, zone_id: int) -> Zone:
    return zone_lock(zone_id=zone_id, customer=customer)


def _check_set(
    zone: Zone, name: str, rtype: str, content: str, ttl: int, *, skip: int | None
) -> None:
    """CNAME exclusivity at a name, duplicates, one TTL per record set (DNS has one)."""
    here = zone.records.filter(name=name)
    if skip is not None:  # the record being changed is not its own duplicate
        here = here.exclude(pk=skip)
    other_ttl = here.filter(type=rtype).exclude(ttl=ttl).values_list("ttl", flat=True).first()
    if other_ttl is not None:
        raise DNSError(
            f"The other {rtype} records of {name} have TTL {other_ttl}: records of "
            "one name and type share one TTL."
        )
    if rtype == "CNAME" and here.exists():
        raise DNSError(f"{name} has other records: a CNAME must be the only record at a name.")
    if rtype != "CNAME" and here.filter(type="CNAME").exists():
        raise DNSError(f"{name} has a CNAME: no other record can be at that name.")
    if here.filter(type=rtype, content=content).exists():
        raise DNSError("This record exists already.")


@transaction.atomic
def record_add(
    *,
    customer: Customer,
    zone_id: int,
    name: str,
    type: str,
    ttl: int | str,
    content: str,
    actor: User | None = None,
) -> Record:
    zone = _locked_zone(customer, zone_id)
    plan = _serving_plan(customer)
    clean = record_clean(zone=zone.name, name=name, type=type, ttl=ttl, content=content)
    if zone.records.count() >= plan.record_limit:
        raise LimitReached(
            f"Your {plan.plan_name} plan allows {plan.record_limit} records per zone."
        )
    _check_set(zone, clean.name, clean.type, clean.content, clean.ttl, skip=None)
    record = Record.objects.create(
        zone=zone, name=clean.name, type=clean.type, ttl=clean.ttl, content=clean.content
    )
    _changed(zone, [(clean.name, clean.type)], actor, "added", record)
    return record


@transaction.atomic
def record_update(
    *,
    customer: Customer,
    record_id: int,
    name: str,
    type: str,
    ttl: int | str,
    content: str,
    actor: User | None = None,
) -> Record:
    record = Record.objects.select_related("zone").get(pk=record_id, zone__customer=customer)
    zone = _locked_zone(customer, record.zone_id)
    _serving_plan(customer)
    clean = record_clean(zone=zone.name, name=name, type=type, ttl=ttl, content=content)
    _check_set(zone, clean.name, clean.type, clean.content, clean.ttl, skip=record.pk)
    before = (record.name, record.type)
    record.name, record.type, record.ttl, record.content = (
        clean.name,
        clean.type,
        clean.ttl,
        clean.content,
    )
    record.save()
    _changed(
        zone, list(dict.fromkeys([before, (clean.name, clean.type)])), actor, "changed", record
    )
    return record


@transaction.atomic
def record_delete(*, customer: Customer, record_id: int, actor: User | None = None) -> None:
    record = Record.objects.select_related("zone").get(pk=record_id, zone__customer=customer)
    zone = _locked_zone(customer, record.zone_id)
    target = (record.name, record.type)
    record.delete()
    _changed(zone, [target], actor, "deleted", None)


def _changed(
    zone: Zone,
    sets: list[tuple[str, str]],
    actor: User | None,
    what: str,
    record: Record | None,
) -> None:
    _bump(zone)
    if zone.status == Zone.Status.ACTIVE:
        for name, rtype in sets:
            _enqueue(zone.name, Op.Kind.PUSH_RRSET, name, rtype)
    audit_record(
        action=DnsAudit.DNS_RECORDS_CHANGED,
        actor=actor,
        customer=zone.customer,
        target=zone,
        details={
            "what": what,
            "sets": [f"{n} {t}" for n, t in sets],
            "record": str(record) if record else "",
        },
    )


@transaction.atomic
def zone_delete(
    *, customer: Customer, zone_id: int, confirm: str, actor: User | None = None
) -> None:
    zone = _locked_zone(customer, zone_id)
    if confirm.strip().lower().rstrip(".") != zone.name:
        raise DNSError(f"Type {zone.name} to confirm that the zone and its records go.")
    name = zone.name
    zone.delete()
    _enqueue(name, Op.Kind.DELETE_ZONE)
    audit_record(
        action=DnsAudit.DNS_ZONE_DELETED, actor=actor, customer=customer, details={"zone": name}
    )


# --- What the server should have ----------------------------------------------------------


def _fqdn(name: str, zone: str) -> str:
    return f"{zone}." if name == "@" else f"{name}.{zone}."


def _content(record: Record) -> str:
    return settings.DNS_PROXY_IP if record.content == PROXY_ALIAS else record.content


def _soa(zone: Zone) -> RRSet:
    primary = settings.DNS_REQUIRED_NAMESERVERS[0].rstrip(".")
    content = (
        f"{primary}. {settings.DNS_HOSTMASTER.rstrip('.')}. {zone.serial} 10800 3600 604800 3600"
    )
    return RRSet(f"{zone.name}.", "SOA", 3600, (content,))


def _apex_ns(zone: Zone) -> RRSet:
    servers = tuple(sorted(f"{ns.rstrip('.')}." for ns in settings.DNS_REQUIRED_NAMESERVERS))
    return RRSet(f"{zone.name}.", "NS", 3600, servers)


def zone_rrset(zone: Zone, name: str, rtype: str) -> RRSet:
    records = [r for r in zone.records.all() if r.name == name and r.type == rtype]
    ttl = min((r.ttl for r in records), default=settings.DNS_DEFAULT_TTL)
    return RRSet(_fqdn(name, zone.name), rtype, ttl, tuple(sorted(_content(r) for r in records)))


def zone_data(zone: Zone) -> ZoneData:
    sets: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in zone.records.all():
        sets[(record.name, record.type)].append(record)
    rrsets = [_soa(zone), _apex_ns(zone)]
    rrsets += [zone_rrset(zone, name, rtype) for name, rtype in sorted(sets)]
    return ZoneData(f"{zone.name}.", tuple(rrsets))


# --- Operations ---------------------------------------------------------------------------


def _push(operation: Op) -> None:
    backend = dns_backend()
    zone = Zone.objects.filter(name=operation.zone_name, status=Zone.Status.ACTIVE).first()
    if operation.kind == Op.Kind.DELETE_ZONE:
        if zone is None:  # deleted or suspended meanwhile (restored zones are re-created)
            backend.zone_delete(f"{operation.zone_name}.")
        return
    if zone is None:
        return  # gone or suspended since: nothing to serve
    if operation.kind == Op.Kind.CREATE_ZONE:
        backend.zone_create(zone_data(zone))
    else:
        backend.rrset_replace(
            f"{zone.name}.",
            [_soa(zone), zone_rrset(zone, operation.rrset_name, operation.rrset_type)],
        )


def _alert(operation: Op, error: ExternalServiceError) -> tuple[str, str]:
    message = f"{operation} failed: {error.message}. Fix it and run `manage.py dns_reconcile`."
    return f"DNS push failed: {operation.zone_name}", message


# Pushes are idempotent (they write the zone as it is when they run): a lost answer or a
# killed worker is simply pushed again. Failures are repaired by `dns_reconcile`.
DNS_PUSH = OperationKind(
    model=Op,
    task_name="dns.operation_run",
    call=_push,
    alert=_alert,
    target_field="zone_name",
    wait_for_earlier=timedelta(seconds=5),
)


def dns_operation_run(*, operation_id: int, now: datetime | None = None) -> Op:
    return operation_run(DNS_PUSH, operation_id, now=now)


def dns_operations_sweep(*, now: datetime | None = None) -> list[int]:
    """Operations whose message was lost or whose worker died, for the caller to queue."""
    return operations_sweep(DNS_PUSH, now=now)


# --- Reconciliation -----------------------------------------------------------------------

RECONCILE_BATCH = 500  # zones compared per batch (two queries: the zones, their records)


def dns_reconcile() -> dict[str, int]:
    """Compare every zone with the DNS server and repair what drifted: missing zones are
    created, differing or extra record sets replaced or removed, suspended and deleted
    zones taken off. Returns counts."""
    backend = dns_backend()
    counts = {"zones": 0, "created": 0, "repaired_sets": 0, "removed": 0}
    # The zones are never all in memory, and two queries bring a batch with its records.
    for zones in keyset_batches(Zone.objects.prefetch_related("records"), size=RECONCILE_BATCH):
        for zone in zones:
            _zone_reconcile(backend, zone, counts)
    logger.info("dns reconcile: %s", counts)
    return counts


def _zone_reconcile(backend: DnsBackend, zone: Zone, counts: dict[str, int]) -> None:
    counts["zones"] += 1
    served = backend.zone_get(f"{zone.name}.")
    if zone.status == Zone.Status.SUSPENDED:
        if served is not None:
            backend.zone_delete(f"{zone.name}.")
            counts["removed"] += 1
        return
    wanted = zone_data(zone)
    if served is None:
        backend.zone_create(wanted)
        counts["created"] += 1
        return
    fixes = _drift(wanted, served)
    if fixes:
        backend.rrset_replace(wanted.name, fixes)
        counts["repaired_sets"] += len(fixes)


def _drift(wanted: ZoneData, served: ZoneData) -> list[RRSet]:
    """Sets to send so `served` becomes `wanted` (SOA compared without caring for its
    serial; the serial only ever moves up)."""

    def key(rrset: RRSet) -> tuple[str, str]:
        return rrset.name.lower(), rrset.type

    have = {key(r): r for r in served.rrsets}
    fixes = []
    for rrset in wanted.rrsets:
        current = have.pop(key(rrset), None)
        if rrset.type == "SOA":
            continue
        if (
            current is None
            or set(current.contents) != set(rrset.contents)
            or (current.ttl != rrset.ttl)
        ):
            fixes.append(rrset)
    fixes += [RRSet(r.name, r.type, r.ttl, ()) for k, r in have.items() if r.type != "SOA"]
    return fixes
