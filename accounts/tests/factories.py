"""factory_boy factories for accounts models."""

from __future__ import annotations

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.audit import AccountAudit
from accounts.models import Customer, StaffNote, User
from billing_portal.common.audit import AuditEvent

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.django.Password(PASSWORD)


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    user = factory.SubFactory(UserFactory)
    name = factory.Faker("name")
    company = factory.Faker("company")
    country = "DE"


class AuditEventFactory(DjangoModelFactory[AuditEvent]):
    class Meta:
        model = AuditEvent

    customer = factory.SubFactory(CustomerFactory)
    actor = factory.LazyAttribute(lambda o: o.customer.user)
    actor_label = factory.LazyAttribute(lambda o: o.customer.user.email)
    action = AccountAudit.LOGIN
    ip_address = "203.0.113.7"


class StaffNoteFactory(DjangoModelFactory[StaffNote]):
    class Meta:
        model = StaffNote

    customer = factory.SubFactory(CustomerFactory)
    author = factory.SubFactory(UserFactory, is_staff=True)
    body = factory.Faker("paragraph")
