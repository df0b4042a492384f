"""Writes of the DNS app: plans bought and renewed with account credit, zones and records,
and the operations that push them to the DNS server.

Every change is written in the portal first and then pushed by a `DnsOperation` (retried with
backoff like provisioning). A push reads the zone as it is when it runs and replaces whole
record sets (all records of one name and type) together with the SOA, whose serial the
portal raises on every change; so pushes are idempotent, and a late or repeated one still
leaves the server as the portal says. Lock order: credit account, then subscription, then
zone.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import Customer, User
from billing_portal.common.audit import audit_record
from billing_portal.common.db import in_batches, retry_on_conflict
from billing_portal.common.emails import email_send_on_commit
from billing_portal.common.errors import ExternalServiceError
from billing_portal.common.money import money_quantize
from billing_portal.common.operations import (
    OperationKind,
    operation_queue,
    operation_run,
    operations_sweep,
)
from credits.errors import InsufficientCredit
from credits.models import CreditEntry
from credits.services import credit_account_lock, credit_add, credit_entry_append
from dnszones.audit import DnsAudit
from dnszones.backends import dns_backend
from dnszones.backends.base import RRSet, ZoneData
from dnszones.delegation import delegation_check
from dnszones.errors import DNSError, LimitReached, PriceChanged
from dnszones.locks import dns_subscription_lock, dns_subscription_lock_for, zone_lock, zones_lock
from dnszones.models import DnsOperation, DnsPlan, DnsSubscription, Record, Zone
from dnszones.selectors import zones_for_customer
from dnszones.validation import PROXY_ALIAS, record_clean, zone_name_normalize

logger = logging.getLogger(__name__)

Op = DnsOperation
Sub = DnsSubscription


# --- Plans and subscriptions --------------------------------------------------------------


def _debit(customer: Customer, amount: Money, key: str, description: str) -> CreditEntry:
    return credit_entry_append(
        customer=customer,
        amount=-amount,
        kind=CreditEntry.Kind.SERVICE_PURCHASE,
        idempotency_key=key,
        description=description,
    )


def _pay(customer: Customer, amount: Money, key: str, description: str) -> CreditEntry:
    """A debit the customer asked for: short credit is a clear message, nothing changes."""
    try:
        return _debit(customer, amount, key, description)
    except InsufficientCredit as exc:
        raise DNSError(
            f"Not enough account credit: this costs {amount}. Add credit on the Billing & "
            "credits page first."
        ) from exc


def _prorated(amount: Money, sub: Sub, today: date) -> Money:
    days = (sub.period_end - sub.period_start).days or 1
    left = min(max((sub.period_end - today).days, 0), days)
    return money_quantize(amount * left / days)


@dataclass(frozen=True)
class PlanQuote:
    """What buying or switching to `plan` does now, shown to the customer before they
    confirm: `amount` is taken from their credit (negative: added to it) for the days from
    `period_start` to `period_end`; the plan then renews on `renews_on` (None: it ends then)
    at its monthly price."""

    plan: DnsPlan
    from_plan: DnsPlan | None
    amount: Money
    period_start: date
    period_end: date
    renews_on: date | None

    @property
    def credited(self) -> Money:
        return -self.amount


def dns_plan_quote(*, customer: Customer, plan_id: int, today: date | None = None) -> PlanQuote:
    """The charge (or credit) of buying or switching to a plan today, with the same checks
    as `dns_plan_buy` (already that plan, the new plan's limits); writes nothing."""
    today = today or timezone.localdate()
    plan = DnsPlan.objects.get(pk=plan_id, is_active=True)
    sub = Sub.objects.filter(customer=customer).select_related("plan").first()
    return _quote(customer, sub, plan, today)


def _quote(customer: Customer, sub: Sub | None, plan: DnsPlan, today: date) -> PlanQuote:
    if sub is None or not sub.serving:
        end = today + relativedelta(months=1)
        return PlanQuote(plan, None, plan.price, today, end, end)
    if sub.plan_id == plan.pk:
        raise DNSError(f"You already have the {plan.name} plan.")
    _change_limits(customer, plan)
    return PlanQuote(
        plan,
        sub.plan,
        _prorated(plan.price - sub.plan.price, sub, today),
        today,
        sub.period_end,
        sub.next_renewal,
    )


@retry_on_conflict
@transaction.atomic
def dns_plan_buy(
    *,
    customer: Customer,
    plan_id: int,
    request_key: str,
    actor: User | None = None,
    today: date | None = None,
    expected_amount: Decimal | None = None,
) -> Sub:
    """Buy a plan with account credit (once per `request_key`), or move to another plan:
    an upgrade pays the prorated difference, a downgrade credits it back (limits allowing).
    With `expected_amount` (what the customer was shown, in the plan's currency), a
    different charge is refused."""
    today = today or timezone.localdate()
    plan = DnsPlan.objects.get(pk=plan_id, is_active=True)
    account = credit_account_lock(customer, str(plan.currency))  # credit account first
    if account.entries.filter(idempotency_key=f"dns:{request_key}").exists():
        return Sub.objects.get(customer=customer)  # this form was submitted before
    sub = dns_subscription_lock_for(customer)
    quote = _quote(customer, sub, plan, today)
    if expected_amount is not None and expected_amount != quote.amount.amount:
        raise PriceChanged("The price changed since it was shown: check it again below.")
    if quote.from_plan is not None:
        if sub is None:  # _quote names a plan to move from only for a subscriber
            raise ValueError("A plan change needs a subscription to change.")
        return _plan_change(sub, quote, request_key, actor)
    _pay(customer, quote.amount, f"dns:{request_key}", f"DNS plan {plan.name}, one month")
    values = {
        "plan": plan,
        "status": Sub.Status.ACTIVE,
        "period_start": quote.period_start,
        "period_end": quote.period_end,
        "auto_renew": True,
        "last_renewed_at": timezone.now(),
        "grace_until": None,
    }
    if sub is None:
        sub = Sub.objects.create(customer=customer, **values)
    else:
        for field, value in values.items():
            setattr(sub, field, value)
        sub.save()
        _zones_restore(customer)
    audit_record(
        action=DnsAudit.DNS_PLAN_BOUGHT,
        actor=actor,
        customer=customer,
        target=sub,
        details={"plan": plan.name, "price": str(plan.price)},
    )
    return sub


def _change_limits(customer: Customer, plan: DnsPlan) -> None:
    """A switch (a downgrade, in practice) must leave the zones within the new plan."""
    zones = customer.zones.count()
    if zones > plan.domain_limit:
        raise LimitReached(f"{plan.name} allows {plan.domain_limit} domains; you have {zones}.")
    busiest = max(
        zones_for_customer(customer=customer).values_list("record_count", flat=True), default=0
    )
    if busiest > plan.record_limit:
        raise LimitReached(
            f"{plan.name} allows {plan.record_limit} records per zone; one of yours has {busiest}."
        )


def _plan_change(sub: Sub, quote: PlanQuote, request_key: str, actor: User | None) -> Sub:
    plan, difference, old = quote.plan, quote.amount, sub.plan
    if difference.amount > 0:
        _pay(
            sub.customer,
            difference,
            f"dns:{request_key}",
            f"DNS plan change {old.name} → {plan.name} for the rest of the month",
        )
    elif difference.amount < 0:
        credit_add(
            customer=sub.customer,
            amount=-difference,
            kind=CreditEntry.Kind.DOWNGRADE_CREDIT,
            idempotency_key=f"dns:{request_key}",
            description=f"DNS plan change {old.name} → {plan.name}",
            details={"source": "dns downgrade", "subscription": sub.pk},
        )
    sub.plan = plan
    sub.save(update_fields=["plan"])
    audit_record(
        action=DnsAudit.DNS_PLAN_BOUGHT,
        actor=actor,
        customer=sub.customer,
        target=sub,
        details={"from": old.name, "plan": plan.name, "difference": str(difference)},
    )
    return sub


@transaction.atomic
def dns_subscription_cancel(*, customer: Customer, actor: User | None = None) -> Sub:
    """Stop auto-renewal: the plan runs to the end of the paid month."""
    sub = dns_subscription_lock(customer=customer)
    sub.auto_renew = False
    sub.save(update_fields=["auto_renew"])
    audit_record(
        action=DnsAudit.DNS_PLAN_CANCELLED,
        actor=actor,
        customer=customer,
        target=sub,
        details={"ends": sub.period_end.isoformat()},
    )
    return sub


def _notify(sub: Sub, subject_line: str, text: str) -> None:
    email_send_on_commit(
        to=[sub.customer.user.email],
        name="dns_notice",
        context={
            "customer_name": sub.customer.name,
            "subject_line": subject_line,
            "text": text,
            "billing_path": "/billing/",
        },
    )


def dns_subscription_renew(*, subscription_id: int, today: date) -> str:
    """One billing-run step for one subscription: renew from credit when due, else grace,
    then suspension (zones off the server, records kept); a renewal restores them."""
    with transaction.atomic():
        peek = Sub.objects.select_related("customer", "plan").get(pk=subscription_id)
        credit_account_lock(peek.customer, str(peek.plan.currency))
        sub = dns_subscription_lock(related=("customer__user", "plan"), pk=subscription_id)
        if sub.period_end > today or sub.status == Sub.Status.CANCELLED:
            return "not due"
        if not sub.auto_renew:
            sub.status = Sub.Status.CANCELLED
            sub.save(update_fields=["status"])
            _zones_suspend(sub.customer)
            _notify(
                sub,
                "Your DNS plan has ended",
                "Your zones are no longer served; their "
                "records are kept. Buy a plan again to serve them.",
            )
            return "ended"
        try:
            _debit(
                sub.customer,
                sub.plan.price,
                f"dns-subscription:{sub.pk}:{sub.period_end}",
                f"DNS plan {sub.plan.name} renewal",
            )
        except InsufficientCredit:
            return _short_of_credit(sub, today)
        was_suspended = sub.status == Sub.Status.SUSPENDED
        sub.period_start, sub.period_end = sub.period_end, sub.period_end + relativedelta(months=1)
        sub.status, sub.grace_until, sub.renewals = Sub.Status.ACTIVE, None, sub.renewals + 1
        sub.last_renewed_at = timezone.now()
        sub.save()
        if was_suspended:
            _zones_restore(sub.customer)
        return "renewed"


def _short_of_credit(sub: Sub, today: date) -> str:
    if sub.status == Sub.Status.ACTIVE:
        sub.status = Sub.Status.GRACE
        sub.grace_until = sub.period_end + timedelta(days=settings.DNS_GRACE_DAYS)
        sub.save(update_fields=["status", "grace_until"])
        _notify(
            sub,
            "Add credit to keep your DNS plan",
            f"We could not renew your {sub.plan.name} plan ({sub.plan.price}) from your "
            f"account credit. Add credit before {sub.grace_until:%Y-%m-%d} or your zones "
            "stop being served.",
        )
        return "grace"
    if sub.status == Sub.Status.GRACE and sub.grace_until and today >= sub.grace_until:
        sub.status = Sub.Status.SUSPENDED
        sub.save(update_fields=["status"])
        _zones_suspend(sub.customer)
        _notify(
            sub,
            "Your DNS zones are suspended",
            "Your DNS plan could not be renewed, so your zones are no longer served. Their "
            "records are kept: add credit and they come back with the next renewal.",
        )
        return "suspended"
    return "waiting"


def _zones_suspend(customer: Customer) -> None:
    for zone in zones_lock(customer=customer, status="active"):
        zone.status = Zone.Status.SUSPENDED
        zone.save(update_fields=["status"])
        _enqueue(zone.name, Op.Kind.DELETE_ZONE)


def _zones_restore(customer: Customer) -> None:
    for zone in zones_lock(customer=customer, status="suspended"):
        zone.status = Zone.Status.ACTIVE
        _bump(zone)
        _enqueue(zone.name, Op.Kind.CREATE_ZONE)


def dns_subscriptions_due(*, today: date) -> list[int]:
    return list(
        Sub.objects.filter(period_end__lte=today)
        .exclude(status=Sub.Status.CANCELLED)
        .values_list("pk", flat=True)
    )


# --- Zones and records --------------------------------------------------------------------


def _serving_plan(customer: Customer) -> DnsPlan:
    sub = Sub.objects.filter(customer=customer).select_related("plan").first()
    if sub is None or not sub.serving:
        raise DNSError("You need an active DNS plan first: buy one with your account credit.")
    return sub.plan


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
    checks are made again under the subscription's lock, which also keeps two concurrent
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
        dns_subscription_lock_for(customer)
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
        raise LimitReached(f"Your {plan.name} plan allows {plan.domain_limit} domains.")


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
        raise LimitReached(f"Your {plan.name} plan allows {plan.record_limit} records per zone.")
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


def dns_reconcile() -> dict[str, int]:
    """Compare every zone with the DNS server and repair what drifted: missing zones are
    created, differing or extra record sets replaced or removed, suspended and deleted
    zones taken off. Returns counts."""
    backend = dns_backend()
    counts = {"zones": 0, "created": 0, "repaired_sets": 0, "removed": 0}
    for zone in Zone.objects.prefetch_related("records"):
        counts["zones"] += 1
        served = backend.zone_get(f"{zone.name}.")
        if zone.status == Zone.Status.SUSPENDED:
            if served is not None:
                backend.zone_delete(f"{zone.name}.")
                counts["removed"] += 1
            continue
        wanted = zone_data(zone)
        if served is None:
            backend.zone_create(wanted)
            counts["created"] += 1
            continue
        fixes = _drift(wanted, served)
        if fixes:
            backend.rrset_replace(wanted.name, fixes)
            counts["repaired_sets"] += len(fixes)
    logger.info("dns reconcile: %s", counts)
    return counts


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
