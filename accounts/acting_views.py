"""Starting and stopping acting as a customer: django-hijack's views, with the audit events,
the staff session's second factor carried across, and this portal's pages to land on.

Start is a custom URL of the customer admin (`admin:accounts_customer_act_as`, POST), so it
is behind the admin's staff check and declared with its permission like every admin URL;
stop is the client area's `accounts:stop_acting` (POST), the banner's button."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from hijack.views import AcquireUserView, ReleaseUserView

from accounts import services
from accounts.acting import STAFF_DEVICE_SESSION_KEY, SWITCHING_ATTRIBUTE
from accounts.models import Customer, User
from accounts.session_keys import HAS_FACTOR
from billing_portal.common.request import RequestMeta


class ActAsCustomerView(AcquireUserView):
    """POST: this session becomes the customer's (the check is accounts.acting.may_act_as)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The customer comes from the URL, not a posted `user_pk` (which hijack's own
        # dispatch insists on), so skip that one step of the chain.
        return super(AcquireUserView, self).dispatch(request, *args, **kwargs)

    def get_object(self, queryset: Any = None) -> User:
        customer = get_object_or_404(Customer.objects.select_related("user"), pk=self.kwargs["pk"])
        return customer.user

    def get_success_url(self) -> str:
        return reverse("dashboard")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        staff, device_id = request.user, request.session.get(DEVICE_ID_SESSION_KEY)
        setattr(request, SWITCHING_ATTRIBUTE, True)
        response = super().post(request, *args, **kwargs)
        request.session[STAFF_DEVICE_SESSION_KEY] = device_id
        services.acting_record(
            staff=staff, user=request.user, started=True, meta=RequestMeta.from_request(request)
        )
        return response


class StopActingView(ReleaseUserView):
    """POST: back to the staff session, on the customer's admin page."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        acted_as, device_id = request.user, request.session.get(STAFF_DEVICE_SESSION_KEY)
        self.customer_id = getattr(Customer.objects.filter(user=acted_as).first(), "pk", None)
        setattr(request, SWITCHING_ATTRIBUTE, True)
        response = super().post(request, *args, **kwargs)
        if device_id:  # the staff session had passed its second factor before acting
            request.session[DEVICE_ID_SESSION_KEY] = device_id
            request.session[HAS_FACTOR] = True
        services.acting_record(
            staff=request.user, user=acted_as, started=False, meta=RequestMeta.from_request(request)
        )
        return response

    def get_success_url(self) -> str:
        if self.customer_id is None:
            return reverse("admin:index")
        return reverse("admin:accounts_customer_change", args=[self.customer_id])
