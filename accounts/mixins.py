"""View mixins for the client area."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.acting import is_acting
from accounts.models import Customer
from accounts.selectors import customer_get_for_user


class CustomerRequiredMixin(LoginRequiredMixin):
    """Logged in and with a customer profile; sets `self.customer` for selectors to scope by.

    Every client-area view that shows customer data uses this, so each query is scoped to
    the customer of the logged-in user and another customer's objects answer 404.
    """

    customer: Customer

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        customer = customer_get_for_user(user=request.user)
        if customer is None:
            messages.info(request, "Please complete your billing profile to continue.")
            return redirect("accounts:profile")
        self.customer = customer
        return super().dispatch(request, *args, **kwargs)


class NotWhileActingMixin:
    """Refuses the view while staff act as the customer (accounts/acting.py): paying,
    buying credit or tokens, ordering, and changing the password, email, second factor or
    saved cards are the customer's own acts. Put it first in the view's bases; the test in
    accounts/tests/test_acting.py walks every view that has it.

    `acting_refused_methods` limits the refusal to some methods (a page whose GET only
    shows the form stays readable); `acting_refused_what` finishes the message's sentence.
    """

    acting_refused_methods: tuple[str, ...] = ()  # empty: every method
    acting_refused_what = "do this"
    acting_refused_redirect = "dashboard"  # where to go when the referring page will not do

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        methods = self.acting_refused_methods
        if is_acting(request) and (not methods or request.method in methods):
            return self.acting_refusal(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def acting_refusal(self, request: HttpRequest) -> HttpResponse:
        message = (
            f"Staff acting as a customer cannot {self.acting_refused_what}: only the "
            "customer can. Nothing was changed."
        )
        if "application/json" in request.headers.get("Accept", "") or (
            request.content_type == "application/json"
        ):
            return JsonResponse({"detail": message}, status=403)
        messages.error(request, message)
        target = _referring_page(request) or reverse(self.acting_refused_redirect)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


def _referring_page(request: HttpRequest) -> str:
    """The page the refused request came from, when it is this site's and another page."""
    referer = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    path = urlsplit(referer).path
    return "" if path == request.path else referer
