"""Security headers: every client-area, admin and API-docs page sends the Content-Security-
Policy, Permissions-Policy, Referrer-Policy and Cross-Origin-Opener-Policy, and no page
carries inline code the policy would block; pages for a signed-in user are never stored by
caches."""

from __future__ import annotations

import contextlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.tests.factories import UserFactory
from billing_portal.tests import test_hostile_input as hostile

pytestmark = pytest.mark.django_db

# Every client-area form's objects, for one customer (the hostile-input walk's state).
world = hostile.world

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self' https://checkout.stripe.com https://hooks.stripe.com "
    "https://www.paypal.com https://www.sandbox.paypal.com",
}
HEADERS = {
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class _InlineCode(HTMLParser):
    """Collects what a strict policy blocks: inline scripts, style elements and attributes,
    event-handler attributes and javascript: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "action", "src") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:...>")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


def csp_directives(response) -> dict[str, str]:
    header = response.get("Content-Security-Policy", "")
    return dict(part.strip().partition(" ")[::2] for part in header.split(";") if part.strip())


def _problems(
    label: str, response, *, form_targets: tuple[str, ...] = (), policy: dict | None = None
) -> list[str]:
    """What is wrong with one response's security headers and markup; `form_targets` are
    the origins the page may send a form to besides the payment providers; `policy` is the
    CSP expected instead of the pages' one."""
    problems = []
    expected = policy or {
        **POLICY,
        "form-action": " ".join((POLICY["form-action"], *form_targets)),
    }
    if csp_directives(response) != expected:
        problems.append(f"{label}: CSP {response.get('Content-Security-Policy')!r}")
    if "camera=()" not in response.get("Permissions-Policy", ""):
        problems.append(f"{label}: Permissions-Policy {response.get('Permissions-Policy')!r}")
    problems += [
        f"{label}: {name} {response.get(name)!r}"
        for name, value in HEADERS.items()
        if response.get(name) != value
    ]
    if response.status_code == 200 and "html" in response.get("Content-Type", ""):
        problems += [f"{label}: {found}" for found in inline_code(response.content.decode())]
    return problems


def _directives(value: str) -> set[str]:
    return {part.strip() for part in value.split(",")}


def test_signed_in_pages_are_private_and_never_stored(client, customer):
    client.force_login(customer.user)
    for url in (reverse("dashboard"), reverse("invoices:invoice_list")):
        response = client.get(url)
        assert response.status_code == 200
        assert {"private", "no-store"} <= _directives(response["Cache-Control"])


def test_redirects_and_errors_for_a_signed_in_user_are_not_stored_either(client, customer):
    client.force_login(customer.user)
    for url, status in ((reverse("accounts:login"), 302), ("/invoices/999999/", 404)):
        response = client.get(url)
        assert response.status_code == status
        assert {"private", "no-store"} <= _directives(response["Cache-Control"])


def test_admin_pages_are_private_and_never_stored(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert {"private", "no-store"} <= _directives(response["Cache-Control"])


def test_anonymous_pages_are_not_marked_private(client, db):
    response = client.get(reverse("accounts:register"))
    assert response.status_code == 200
    assert "private" not in response.get("Cache-Control", "")


def test_static_files_stay_cacheable_for_a_signed_in_user(settings, customer):
    # WhiteNoise serves static files before the session is read, so they keep their own
    # caching headers whoever asks.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    browser = Client()
    browser.force_login(customer.user)
    response = browser.get("/static/css/portal.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "private" not in response.get("Cache-Control", "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Responses that are files a customer uploaded (support/views.py): a stricter policy than
# the pages', so a file opened in the browser can run nothing and load nothing.
SANDBOXED = {"support:attachment": {"default-src": "'none'", "sandbox": ""}}

# The service page's "Open control panel" form ends on the panel's own host.
PANEL_TARGETS = {"provisioning:service_detail": lambda w: (_origin(w.service.server.base_url),)}


def test_every_client_area_page_sends_the_security_headers(world):
    """Every URL of the client area (the hostile-input walk's table, which is complete by
    its own test), as the customer or anonymously as its form is used."""
    signed_in, anonymous = Client(), Client()
    signed_in.force_login(world.customer.user)
    problems, seen = [], set()
    for endpoint in hostile.ENDPOINTS:
        if endpoint.name in seen:
            continue
        seen.add(endpoint.name)
        client = anonymous if endpoint.anonymous else signed_in
        url = reverse(endpoint.name, kwargs=endpoint.kwargs(world))
        response = client.get(url)
        assert response.status_code < 500, url
        targets = PANEL_TARGETS.get(endpoint.name, lambda w: ())(world)
        problems += _problems(
            f"GET {url} ({response.status_code})",
            response,
            form_targets=targets,
            policy=SANDBOXED.get(endpoint.name),
        )
        if not endpoint.anonymous:
            cache_control = _directives(response.get("Cache-Control", ""))
            if not {"private", "no-store"} <= cache_control:
                problems.append(f"GET {url}: Cache-Control {cache_control}")
    assert len(seen) > 50
    assert not problems, "\n".join(problems)


def _admin_urls(model, model_admin) -> list[str]:
    info = (model._meta.app_label, model._meta.model_name)
    urls = [
        reverse("admin:{}_{}_changelist".format(*info)),
        reverse("admin:{}_{}_add".format(*info)),
    ]
    first = model._default_manager.order_by("pk").first()
    if first is not None:
        urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse("admin:{}_{}_history".format(*info), args=[first.pk]))
    return urls


def test_every_admin_page_sends_the_security_headers(world):
    """The admin index, each app's index and every changelist, add form, change form and
    history page (of the first row, where there is one) for a superuser."""
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    urls = [reverse("admin:index")]
    urls += sorted(
        {reverse("admin:app_list", args=[model._meta.app_label]) for model in admin.site._registry}
    )
    for model, model_admin in admin.site._registry.items():
        urls += _admin_urls(model, model_admin)
    problems, answered = [], 0
    for url in urls:
        response = staff.get(url)
        assert response.status_code in (200, 403), f"{url}: {response.status_code}"
        answered += response.status_code == 200
        problems += _problems(f"GET {url} ({response.status_code})", response)
        if not {"private", "no-store"} <= _directives(response.get("Cache-Control", "")):
            problems.append(f"GET {url}: Cache-Control {response.get('Cache-Control')}")
    assert answered > 60
    assert not problems, "\n".join(problems)


def test_the_api_docs_send_the_security_headers(client, customer):
    client.force_login(customer.user)
    for url in (reverse("api-docs"), reverse("api-schema")):
        response = client.get(url)
        assert response.status_code == 200
        assert not _problems(url, response)


def test_the_inline_code_finder_finds_each_kind():
    html = (
        '<script>alert(1)</script><script src="/static/a.js"></script><style>p{}</style>'
        '<p style="color:red" onclick="x()"><a href="javascript:print()">p</a></p>'
    )
    assert inline_code(html) == [
        "<script> without src",
        "<style>",
        "<p style=...>",
        "<p onclick=...>",
        "<a href=javascript:...>",
    ]
