"""View mixins for the client area."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

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
