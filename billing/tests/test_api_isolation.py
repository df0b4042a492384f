"""The API's isolation matrix, generated from its own OpenAPI schema (issue 17's proof):

- every operation under /api/v1/staff/, called with a customer's key holding every
  customer scope, answers 403 (and 401 or 403 with no key at all);
- every customer operation with an object id in its path, called as customer A with
  customer B's object ids, answers 404 and changes nothing of B's; the same GET with A's
  own objects answers 200, so the 404 is the ownership check, not a broken route.

B's objects come from RESOURCES, keyed by the path's resource (the static segments before
each path parameter: `invoices` for /invoices/{id}/pay-with-credit/, `dns/zones/records` for
/dns/zones/{zone_id}/records/{id}/). An operation whose resource the table does not know
fails, naming it: a new endpoint gets its row here, so it is covered too."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts import services as account_services
from accounts.models import ApiKey, Customer
from accounts.tests.factories import CustomerFactory
from billing import services as billing
from billing_portal.common.models import AuditEvent
from billing_portal.common.testing import usd
from credits.services import credit_entry_append
from dnszones.models import Record, Zone
from invoices import services as invoices
from invoices.models import Invoice
from payments.models import GatewayPlan, GatewaySubscription, PaymentAttempt, SavedPaymentMethod
from provisioning.models import ProvisioningOperation, Service
from provisioning.tests.factories import ServerFactory, service_on
from support.tests.helpers import ticket_for

pytestmark = pytest.mark.django_db

SCHEMA: dict[str, Any] = json.loads(
    OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True))
)
PREFIX = "/api/v1/"
STAFF_PREFIX = "/api/v1/staff/"
METHODS = ("get", "post", "put", "patch", "delete")
PARAMETER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} ({self.operation_id})"


def _operations() -> list[Operation]:
    return [
        Operation(method, path, spec["operationId"])
        for path, item in SCHEMA["paths"].items()
        for method, spec in item.items()
        if method in METHODS and path.startswith(PREFIX)
    ]


STAFF = [op for op in _operations() if op.path.startswith(STAFF_PREFIX)]
CUSTOMER_WITH_IDS = [
    op for op in _operations() if not op.path.startswith(STAFF_PREFIX) and "{" in op.path
]


def resources_of(path: str) -> list[tuple[str, str]]:
    """(parameter, resource) for each path parameter, in order: the resource is the static
    segments before it (`/api/v1/dns/zones/{zone_id}/records/{id}/` gives zone_id:
    dns/zones, id: dns/zones/records)."""
    found, static = [], []
    for segment in path.removeprefix(PREFIX).strip("/").split("/"):
        match = PARAMETER.fullmatch(segment)
        if match:
            found.append((match.group(1), "/".join(static)))
        else:
            static.append(segment)
    return found


# --- the objects, per resource --------------------------------------------------------------


def _service(customer: Customer) -> int:
    return service_on(ServerFactory(), customer=customer, status="active").pk


def _invoice(customer: Customer) -> int:
    line = invoices.LineDraft(kind="manual", description="Work", unit_price=usd("30"))
    draft = invoices.invoice_create_draft(customer=customer, currency="USD", lines=[line])
    return billing.invoice_issue(invoice_id=draft.pk).pk


def _payment(customer: Customer) -> int:
    invoice_id = _invoice(customer)
    return billing.payment_record(
        invoice_id=invoice_id, gateway="manual", reference=f"iso-{invoice_id}", amount=usd("30")
    ).pk


def _zone(customer: Customer) -> Zone:
    return Zone.objects.create(customer=customer, name=f"iso{customer.pk}.test")


def _record(customer: Customer) -> int:
    zone = Zone.objects.filter(customer=customer).first() or _zone(customer)
    return Record.objects.create(zone=zone, name="www", type="A", ttl=3600, content="192.0.2.1").pk


def _ticket(customer: Customer) -> int:
    return ticket_for(customer).pk


def _saved_method(customer: Customer) -> int:
    return SavedPaymentMethod.objects.create(
        customer=customer,
        gateway="stripe",
        reference=f"pm_{customer.pk}",
        brand="visa",
        last4="4242",
    ).pk


def _credit_entry(customer: Customer) -> int:
    return credit_entry_append(
        customer=customer, amount=usd("5"), kind="admin_add", idempotency_key="iso"
    ).pk


def _zone_id(customer: Customer) -> int:
    return (Zone.objects.filter(customer=customer).first() or _zone(customer)).pk


def _operation(customer: Customer) -> int:
    # on the service the path's {id} names (made first: it comes first in the path)
    service = Service.objects.filter(customer=customer).first() or _service_row(customer)
    return ProvisioningOperation.objects.create(
        service=service, kind="action", idempotency_key=f"iso-{service.pk}", status="succeeded"
    ).pk


def _service_row(customer: Customer) -> Service:
    return Service.objects.get(pk=_service(customer))


def _action_name(customer: Customer) -> str:
    return "restart"  # a name, not an object: the service before it is what is owned


def _checkout(customer: Customer, *, invoice_kind: str = "manual") -> int:
    invoice_id = _invoice(customer)
    Invoice.objects.filter(pk=invoice_id).update(kind=invoice_kind)
    return PaymentAttempt.objects.create(
        invoice_id=invoice_id,
        customer=customer,
        gateway="paypal",
        reference=f"ORDER-{invoice_id}",
        status="redirected",
    ).pk


def _credit_checkout(customer: Customer) -> int:
    return _checkout(customer, invoice_kind="credit")


def _card_setup(customer: Customer) -> int:
    return PaymentAttempt.objects.create(
        kind="card_setup", customer=customer, gateway="stripe", reference=f"cs_{customer.pk}"
    ).pk


def _subscription(customer: Customer) -> int:
    service = _service_row(customer)
    plan = GatewayPlan.objects.create(
        gateway="paypal",
        product=service.product,
        cycle=service.cycle,
        currency="USD",
        amount=usd("12.50"),
        product_reference=f"PROD-{service.pk}",
        reference=f"P-{service.pk}",
    )
    return GatewaySubscription.objects.create(
        service=service,
        customer=customer,
        gateway="paypal",
        reference=f"I-{service.pk}",
        status="active",
        plan=plan,
    ).pk


# What an id in a path points at, by resource; several names where helpers may differ.
RESOURCES: dict[str, Callable[[Customer], int | str]] = {
    "services": _service,
    "invoices": _invoice,
    "payments": _payment,
    "dns/zones": _zone_id,
    "dns/zones/records": _record,
    "zones": _zone_id,
    "zones/records": _record,
    "tickets": _ticket,
    "support/tickets": _ticket,
    "payment-methods": _saved_method,
    "saved-methods": _saved_method,
    "billing/payment-methods": _saved_method,
    "billing/saved-methods": _saved_method,
    "billing/ledger": _credit_entry,
    "credits/ledger": _credit_entry,
    "services/operations": _operation,
    "services/actions": _action_name,
    "billing/credits/purchases": _credit_checkout,
    "payment-methods/setup": _card_setup,
    "subscriptions": _subscription,
    "dns/plans": lambda customer: 0,  # NOT_OWNED
}

# Resources that belong to no customer (the catalogue's DNS plans): the same for everyone,
# so there is no other customer's id to refuse.
NOT_OWNED = {"dns/plans"}


class World:
    """Each customer's objects, made once per resource on first use."""

    def __init__(self) -> None:
        self.made: dict[tuple[int, str], int | str] = {}

    def object_id(self, customer: Customer, resource: str) -> int | str:
        key = (customer.pk, resource)
        if key not in self.made:
            self.made[key] = RESOURCES[resource](customer)
        return self.made[key]

    def path_for(self, op: Operation, customer: Customer) -> str:
        path = op.path
        for parameter, resource in resources_of(op.path):
            path = path.replace(f"{{{parameter}}}", str(self.object_id(customer, resource)))
        return path


def _key_client(customer: Customer) -> Client:
    new = account_services.api_key_create(
        user=customer.user, name="isolation", scopes=list(ApiKey.CUSTOMER_SCOPES)
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {new.token}")


def _call(client: Client, op: Operation, path: str):
    if op.method in ("get", "delete"):
        return getattr(client, op.method)(path, HTTP_IDEMPOTENCY_KEY=f"iso-{op.operation_id}")
    return getattr(client, op.method)(
        path,
        data="{}",
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=f"iso-{op.operation_id}",
    )


# --- the proofs -----------------------------------------------------------------------------


def test_every_resource_of_an_object_path_is_known():
    unknown = sorted(
        f"{op}: {{{parameter}}} of '{resource}'"
        for op in CUSTOMER_WITH_IDS
        for parameter, resource in resources_of(op.path)
        if resource not in RESOURCES
    )
    assert not unknown, "add these resources to RESOURCES: " + "; ".join(unknown)


def test_the_walk_finds_the_schemas_object_operations():
    # The matrix is only as good as its walk: the schema's known object endpoints are in it.
    ids = {op.operation_id for op in CUSTOMER_WITH_IDS}
    assert {"v1_invoices_retrieve", "v1_services_retrieve", "invoice_pay_with_credit"} <= ids
    assert resources_of("/api/v1/dns/zones/{zone_id}/records/{id}/") == [
        ("zone_id", "dns/zones"),
        ("id", "dns/zones/records"),
    ]


OWNED = [op for op in CUSTOMER_WITH_IDS if not {r for _, r in resources_of(op.path)} & NOT_OWNED]


@pytest.mark.parametrize("op", OWNED, ids=str)
def test_customer_b_objects_are_not_found_for_customer_a(op):
    if any(resource not in RESOURCES for _, resource in resources_of(op.path)):
        pytest.fail(f"{op}: its resource is not in RESOURCES (see the test above)")
    world = World()
    a, b = CustomerFactory(), CustomerFactory()
    path = world.path_for(op, b)
    b_events = AuditEvent.objects.filter(customer=b).count()

    response = _call(_key_client(a), op, path)

    assert response.status_code == 404, f"{op} with B's ids: {response.status_code}"
    assert response.json()["code"] == "not_found"
    assert AuditEvent.objects.filter(customer=b).count() == b_events  # nothing of B's changed
    if op.method == "get":
        own = _call(_key_client(a), op, world.path_for(op, a))
        assert own.status_code == 200, f"{op} with A's own ids: {own.status_code}"


@pytest.mark.parametrize("op", STAFF, ids=str)
def test_staff_operations_refuse_a_customer_key(op):
    customer = CustomerFactory()
    path = PARAMETER.sub("1", op.path)
    response = _call(_key_client(customer), op, path)
    assert response.status_code == 403, f"{op} with a customer key: {response.status_code}"
    anonymous = _call(Client(), op, path)
    assert anonymous.status_code in (401, 403), f"{op} without a key: {anonymous.status_code}"
