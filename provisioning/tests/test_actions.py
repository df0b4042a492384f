"""The self-service foundation (provisioning.services.actions, billing.views.self_service):
one operation per click, refusals before any call, the kernel's retry rules per action
(repeatable ones are resent, the others wait for staff as uncertain), secrets shown once,
errors cleaned for customers, live reads that degrade, and the rate limit. Each module's own
actions are tested with the module; here a test module stands in for them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_customer_isolation
from billing_portal.common.models import AuditEvent
from provisioning.errors import PanelError
from provisioning.models import ProvisioningOperation, Service
from provisioning.services import actions, operation_run
from provisioning.services.actions import (
    Action,
    ActionRefused,
    customer_error_message,
    live_read,
    service_action_request,
)
from provisioning.tests.factories import ServerFactory, panel_product

pytestmark = pytest.mark.django_db
Op = ProvisioningOperation
KEY = "0" * 31 + "1"
CALLS: list[tuple[str, dict[str, Any]]] = []


def _echo(panel: Any, service: Service, params: dict[str, Any]) -> dict[str, Any]:
    CALLS.append(("echo", params))
    return {"said": params.get("word", ""), "password": "s3cret-once"}


def _lost(panel: Any, service: Service, params: dict[str, Any]) -> None:
    CALLS.append(("lost", params))
    raise PanelError("Timed out", retryable=True, may_have_applied=True)


def _refuse_long(service: Service, params: dict[str, Any]) -> dict[str, Any]:
    if len(params.get("word", "")) > 5:
        raise ActionRefused("At most 5 letters.")
    return {"word": params.get("word", "")}


TEST_ACTIONS = {
    "echo": Action("echo", "Echo", _echo, clean=_refuse_long, secret_keys=("password",)),
    "lost_safe": Action("lost_safe", "Lost (safe)", _lost),
    "lost_unsafe": Action("lost_unsafe", "Lost (unsafe)", _lost, repeatable=False, confirm="RESET"),
}


@pytest.fixture(autouse=True)
def test_module(monkeypatch):
    CALLS.clear()
    cache.clear()
    monkeypatch.setattr(actions, "_module_actions", lambda: {"testmod": TEST_ACTIONS})
    # any module's section template will do: the test module has none of its own
    section = {"self_service_template": "provisioning/self_service/support.html"}
    monkeypatch.setattr(actions, "_module_pages", lambda: {"testmod": lambda service: section})


@pytest.fixture
def service() -> Service:
    server = ServerFactory(module="sandbox")
    product = panel_product(server, stands_in_for="testmod")
    return Service.objects.create(
        customer=CustomerFactory(),
        product=product,
        cycle="monthly",
        currency="USD",
        recurring_amount="10",
        server=server,
        status=Service.Status.ACTIVE,
        external_id="sandbox-svc-1",
    )


def _request(service: Service, action: str = "echo", **kwargs: Any) -> Op:
    values: dict[str, Any] = {"params": {"word": "hi"}, "click_key": KEY, **kwargs}
    return service_action_request(
        customer=service.customer, service_id=service.pk, action=action, **values
    )


def test_one_click_is_one_operation_and_the_secret_is_shown_once(
    service, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _request(service)
        again = _request(service)
    assert first.pk == again.pk
    assert CALLS == [("echo", {"word": "hi"})]
    first.refresh_from_db()
    assert first.status == Op.Status.SUCCEEDED
    assert first.response_summary == {"ok": True, "result": {"said": "hi"}}
    assert first.secret_result == {"password": "s3cret-once"}
    assert "s3cret-once" not in str(first.response_summary)
    taken = actions.action_secret_take(customer=service.customer, operation_id=first.pk)
    assert taken == {"password": "s3cret-once"}
    assert actions.action_secret_take(customer=service.customer, operation_id=first.pk) == {}
    recorded = AuditEvent.objects.filter(object_id=str(service.pk)).values_list("action", flat=True)
    assert set(recorded) >= {"service.action_requested", "service.action_succeeded"}


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        ({"status": Service.Status.SUSPENDED}, {}, "suspended"),
        ({"status": Service.Status.TERMINATED}, {}, "Only an active service"),
        ({"external_id": ""}, {}, "not set up"),
        ({}, {"action": "nope"}, "no such action"),
        ({}, {"click_key": "x"}, "expired"),
        ({}, {"params": {"word": "toolong"}}, "At most 5"),
        ({}, {"action": "lost_unsafe", "confirmation": "reset"}, "Type RESET"),
    ],
)
def test_refusals_record_nothing_and_call_nothing(service, change, kwargs, message):
    Service.objects.filter(pk=service.pk).update(**change)
    with pytest.raises(ActionRefused, match=message):
        _request(service, **kwargs)
    assert not Op.objects.filter(kind=Op.Kind.ACTION).exists()
    assert CALLS == []


def test_a_lost_answer_is_resent_only_when_the_action_is_safe_to_repeat(service):
    safe = _request(service, action="lost_safe")
    unsafe = _request(service, action="lost_unsafe", click_key="0" * 31 + "2", confirmation="RESET")
    assert operation_run(operation_id=safe.pk).status == Op.Status.PENDING  # retried later
    Op.objects.filter(pk=safe.pk).update(status=Op.Status.SUCCEEDED)  # let the next one run
    assert operation_run(operation_id=unsafe.pk).status == Op.Status.UNCERTAIN
    assert [name for name, _ in CALLS] == ["lost", "lost"]


@override_settings(SERVICE_ACTION_RATE="2/m")
def test_the_client_area_flow_without_javascript_and_with_htmx(
    client, service, django_capture_on_commit_callbacks
):
    client.force_login(service.customer.user)
    url = reverse("provisioning:service_action", args=[service.pk, "echo"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"click_key": KEY, "word": "hey"})
    operation = Op.objects.get(kind=Op.Kind.ACTION)
    assert response.status_code == 302
    assert response.url.endswith(f"?op={operation.pk}#action-status")
    page = client.get(response.url).content.decode()
    assert 'data-status="succeeded"' in page
    assert "s3cret-once" in page
    assert "s3cret-once" not in client.get(response.url).content.decode()  # once
    status_url = reverse("provisioning:service_operation", args=[service.pk, operation.pk])
    ended = client.get(status_url, HTTP_HX_REQUEST="true")  # htmx loads the page showing it
    assert ended.status_code == 204
    assert ended["HX-Redirect"] == response.url
    Op.objects.filter(pk=operation.pk).update(status=Op.Status.RUNNING)
    partial = client.get(status_url, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert b'id="action-status"' in partial.content
    assert b"hx-trigger" in partial.content  # asks again while it runs
    assert client.get(status_url).status_code == 302  # no htmx: the page showing it
    refused = client.post(
        url, {"click_key": "0" * 31 + "3", "word": "toolong"}, HTTP_HX_REQUEST="true"
    )
    assert b"At most 5 letters." in refused.content
    limited = client.post(url, {"click_key": "0" * 31 + "4", "word": "a"}, follow=True)
    assert "wait a minute" in limited.content.decode()
    assert Op.objects.filter(kind=Op.Kind.ACTION).count() == 1


def test_customers_reach_only_their_own_services_actions(client, service):
    operation = _request(service)
    intruder = CustomerFactory()
    assert_customer_isolation(
        client,
        urls=[reverse("provisioning:service_operation", args=[service.pk, operation.pk])],
        owner=service.customer,
        intruder=intruder,
    )
    client.force_login(intruder.user)
    url = reverse("provisioning:service_action", args=[service.pk, "echo"])
    assert client.post(url, {"click_key": "0" * 31 + "9", "word": "x"}).status_code == 404
    assert Op.objects.filter(kind=Op.Kind.ACTION).count() == 1


def test_live_reads_are_cached_and_a_panel_that_is_down_gives_a_notice(service):
    answers = iter([{"state": "running"}])

    def fetch(panel: Any, s: Service) -> dict[str, str]:
        return next(answers)

    assert live_read(service, "status", fetch).data == {"state": "running"}
    assert live_read(service, "status", fetch).data == {"state": "running"}  # cached
    actions.live_reads_forget(service.pk)

    def down(panel: Any, s: Service) -> None:
        raise PanelError("API GET /x failed: HTTP 503", retryable=True)

    read = live_read(service, "status", down)
    assert read.data is None
    assert "not answering" in read.notice


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (
            'API POST /backups failed: HTTP 409: {"error": "Backup quota reached"}',
            "Backup quota reached",
        ),
        (
            "VirtFusion answered 500: <html><body><h1>Server Error</h1></body></html>",
            "Server Error",
        ),
        ('{"errors": [{"detail": "Server is locked"}]}', "Server is locked"),
        ("HTTP 500: <html></html>", actions.GENERIC_ERROR),
        ("", actions.GENERIC_ERROR),
    ],
)
def test_panel_errors_are_cleaned_for_customers(raw, shown):
    assert customer_error_message(raw) == shown
