"""Client-area pages of the support desk: the customer's tickets, the new-ticket form, a
ticket's conversation with the reply form, closing and reopening, and attachment downloads
(the ticket's customer, or staff with the right to view tickets)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import ListView

from accounts.mixins import CustomerRequiredMixin
from accounts.selectors import customer_get_for_user
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import object_id
from billing_portal.common.request import RequestMeta
from provisioning.selectors import service_list_for_customer
from support import services
from support.forms import TicketOpenForm, TicketReplyForm
from support.models import Ticket, TicketAttachment
from support.selectors import (
    article_suggestions,
    attachment_get,
    attachment_get_for_customer,
    departments_offered,
    ticket_get_for_customer,
    ticket_list_for_customer,
    ticket_messages_for_customer,
)


class TicketListView(CustomerRequiredMixin, ListView):
    template_name = "support/ticket_list.html"
    context_object_name = "tickets"
    paginate_by = 20

    def get_queryset(self):
        return ticket_list_for_customer(customer=self.customer)


class TicketCreateView(CustomerRequiredMixin, View):
    template_name = "support/ticket_form.html"

    def _form(self, data: Any = None, files: Any = None, initial: Any = None) -> TicketOpenForm:
        return TicketOpenForm(
            data,
            files,
            initial=initial,
            departments=departments_offered(),
            services=service_list_for_customer(customer=self.customer),
        )

    def _render(self, request: HttpRequest, form: TicketOpenForm) -> HttpResponse:
        # Without JS the suggestions come with the page shown again (a form with errors).
        subject = str(form.data.get("subject", "")) if form.is_bound else ""
        suggestions = article_suggestions(subject=subject)
        return render(request, self.template_name, {"form": form, "suggestions": suggestions})

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {"request_key": uuid.uuid4().hex}
        service = object_id(request.GET.get("service", ""))
        if service is not None:  # opened from a service's page
            initial["service"] = service
        return self._render(request, self._form(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self._form(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form)
        data = form.cleaned_data
        try:
            ticket = services.ticket_open(
                customer=self.customer,
                department_id=data["department"].pk,
                subject=data["subject"],
                body=data["body"],
                service_id=data["service"].pk if data["service"] else None,
                support_key=data["support_key"],
                attachments=data["attachments"],
                request_key=data["request_key"],
                meta=RequestMeta.from_request(request),
            )
        except DomainError as error:
            form.add_error(None, error.message)
            return self._render(request, form)
        messages.success(request, f"Ticket #{ticket.pk} is open: we will email you when we answer.")
        return redirect("support:ticket_detail", pk=ticket.pk)


class CustomerTicketMixin(CustomerRequiredMixin):
    def get_ticket(self) -> Ticket:
        try:
            return ticket_get_for_customer(customer=self.customer, ticket_id=self.kwargs["pk"])
        except Ticket.DoesNotExist as exc:
            raise Http404("No such ticket.") from exc


class TicketDetailView(CustomerTicketMixin, View):
    template_name = "support/ticket_detail.html"

    def _render(self, request: HttpRequest, ticket: Ticket, form: TicketReplyForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "ticket": ticket,
                "conversation": ticket_messages_for_customer(ticket=ticket),
                "form": form,
            },
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = TicketReplyForm(initial={"request_key": uuid.uuid4().hex})
        return self._render(request, self.get_ticket(), form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ticket = self.get_ticket()
        form = TicketReplyForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, ticket, form)
        try:
            services.ticket_reply_by_customer(
                customer=self.customer,
                ticket_id=ticket.pk,
                body=form.cleaned_data["body"],
                attachments=form.cleaned_data["attachments"],
                idempotency_key=form.cleaned_data["request_key"],
                meta=RequestMeta.from_request(request),
            )
        except DomainError as error:
            form.add_error(None, error.message)
            return self._render(request, ticket, form)
        messages.success(request, "Your reply was sent.")
        return redirect("support:ticket_detail", pk=ticket.pk)


class TicketCloseView(CustomerTicketMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ticket = self.get_ticket()
        services.ticket_close(
            ticket_id=ticket.pk,
            actor=request.user,
            customer=self.customer,
            meta=RequestMeta.from_request(request),
        )
        messages.success(request, "The ticket is closed. You can reopen it if you need to.")
        return redirect("support:ticket_detail", pk=ticket.pk)


class TicketReopenView(CustomerTicketMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ticket = self.get_ticket()
        try:
            services.ticket_reopen(
                ticket_id=ticket.pk, customer=self.customer, meta=RequestMeta.from_request(request)
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "The ticket is open again: add your reply below.")
        return redirect("support:ticket_detail", pk=ticket.pk)


def _is_support_staff(request: HttpRequest) -> bool:
    """Staff who may read tickets, signed in with their second factor (as for the admin)."""
    user = request.user
    verified = getattr(user, "is_verified", None)
    return bool(
        user.is_staff and user.has_perm("support.view_ticket") and callable(verified) and verified()
    )


class AttachmentDownloadView(View):
    """A file of a ticket, always as a download of the type its content was found to be (the
    browser is told not to guess another, and to run nothing in it). Anyone but the ticket's
    customer and staff gets 404."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            attachment = self._attachment(request, pk)
        except ObjectDoesNotExist as exc:
            raise Http404("No such file.") from exc
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404("The file is no longer stored.") from exc
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.name,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response

    def _attachment(self, request: HttpRequest, pk: int) -> TicketAttachment:
        if _is_support_staff(request):
            return attachment_get(attachment_id=pk)
        customer = customer_get_for_user(user=request.user)
        if customer is None:
            raise TicketAttachment.DoesNotExist
        return attachment_get_for_customer(customer=customer, attachment_id=pk)
