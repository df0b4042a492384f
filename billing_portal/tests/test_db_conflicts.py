"""Transactions the database aborts for a deadlock are run again; a request that still
meets one ends in a page saying so, never a server error."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import OperationalError, transaction
from django.test import RequestFactory

from accounts.models import Customer
from accounts.tests.factories import CustomerFactory
from billing_portal.common.db import is_transient_conflict, retry_on_conflict
from billing_portal.common.middleware import DatabaseConflictMiddleware
from billing_portal.common.testing import errors_of, run_together


def _crossing_lockers(first: int, second: int, meet: threading.Barrier, runs: list[str]):
    """Lock `first`, wait until the other thread holds its first row, then lock `second`:
    two of these in opposite order deadlock on their first run, not on a retry."""

    def lock_both() -> str:
        runs.append(f"{first}->{second}")
        Customer.objects.select_for_update().get(pk=first)
        if len(runs) <= 2:
            meet.wait(timeout=10)
        Customer.objects.select_for_update().get(pk=second)
        return "done"

    return transaction.atomic(lock_both)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_is_run_again_and_both_transactions_finish():
    a, b = CustomerFactory().pk, CustomerFactory().pk
    meet, runs = threading.Barrier(2), []
    calls = [
        retry_on_conflict(_crossing_lockers(a, b, meet, runs)),
        retry_on_conflict(_crossing_lockers(b, a, meet, runs)),
    ]
    assert run_together(calls) == ["done", "done"]
    assert len(runs) == 3  # the deadlock's victim ran a second time


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_negative_control_without_the_retry_one_of_them_fails_with_the_deadlock():
    a, b = CustomerFactory().pk, CustomerFactory().pk
    meet, runs = threading.Barrier(2), []
    outcomes = run_together(
        [_crossing_lockers(a, b, meet, runs), _crossing_lockers(b, a, meet, runs)]
    )
    [error] = errors_of(outcomes)
    assert is_transient_conflict(error)


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


@pytest.mark.django_db
def test_inside_an_enclosing_transaction_the_error_goes_up_unretried():
    runs = []

    @retry_on_conflict
    def fails() -> None:
        runs.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError), transaction.atomic():
        fails()
    assert runs == [1]


def test_other_database_errors_are_not_retried():
    runs = []

    @retry_on_conflict
    def fails() -> None:
        runs.append(1)
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        fails()
    assert runs == [1]


@pytest.mark.django_db
def test_a_request_that_still_meets_a_deadlock_gets_a_page_saying_so():
    request = RequestFactory().post("/credits/pay-invoice/1/")
    request.user = AnonymousUser()
    request.session = {}
    request._messages = FallbackStorage(request)
    middleware = DatabaseConflictMiddleware(lambda request: None)
    response = middleware.process_exception(request, _deadlock())
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "nothing was charged or changed" in response.content.decode()
    assert middleware.process_exception(request, ValueError("other")) is None
