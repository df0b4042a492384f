"""What the support desk's tests share: departments, tickets opened as customers open them,
support subscriptions with a key, and uploads built in memory."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Customer
from catalogue.tests.factories import ProductFactory
from provisioning.models import Service
from support import services
from support.models import Department, Ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def department(name: str = "Technical") -> Department:
    """A default department (made again after a transactional test flushed the migration's)."""
    group, _ = Group.objects.get_or_create(name=f"Support: {name}")
    found, _ = Department.objects.get_or_create(
        name=name, defaults={"email": f"{name.lower()}@localhost", "group": group}
    )
    return found


def upload(name: str = "screen.png", content: bytes = PNG, content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def ticket_for(customer: Customer, subject: str = "Server down", **kwargs: Any) -> Ticket:
    values: dict[str, Any] = {
        "customer": customer,
        "department_id": department().pk,
        "subject": subject,
        "body": "My server does not answer since **this morning**.",
        **kwargs,
    }
    return services.ticket_open(**values)


def support_subscription(
    customer: Customer, key: str = "SK-GOLD-1", *, priority: str = "urgent", hours: int = 2,
    status: str = "active",
) -> Service:  # fmt: skip
    product = ProductFactory(
        name=f"Support {priority}",
        module="support",
        module_settings={"tier": "gold", "priority": priority, "response_hours": hours},
    )
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount=Decimal("20"),
        status=status,
        external_id=f"svc-{customer.pk}",
        secrets={"support_key": key},
    )
