"""Staff screens of the support desk. The ticket list is the queue: filters by department,
status, priority, assignment and overdue, each with its count (facets), overdue tickets
marked. A ticket's page shows the whole conversation (internal notes marked) with the reply
form (reply, or internal note, then awaiting customer, on hold or closed; canned responses
fill it in). Actions: assign, move department, change priority, set status, merge, each
with its permission. Tickets are never edited through the model form nor deleted: every
change goes through support.services and is audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from billing_portal.common.admin import LargeTableAdminMixin, ReadOnlyAdminMixin, permission_check
from billing_portal.common.errors import DomainError
from billing_portal.common.forms import object_id
from billing_portal.common.request import RequestMeta
from support import admin_kb, services  # noqa: F401 (admin_kb: the knowledge base, announcements)
from support.forms import AssignForm, DepartmentForm, MergeForm, PriorityForm, StaffReplyForm
from support.models import CannedResponse, Department, Ticket
from support.selectors import canned_responses_for, ticket_messages_for_staff

S = Ticket.Status


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "group", "is_active", "position")
    list_editable = ("is_active", "position")
    list_select_related = ("group",)


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ("title", "department", "is_active")
    list_filter = ("department", "is_active")
    search_fields = ("title", "body")
    list_select_related = ("department",)


class AssignedFilter(admin.SimpleListFilter):
    title = "assigned"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "To me"), ("nobody", "To nobody")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "me":
            return queryset.filter(assignee=request.user.pk)
        if self.value() == "nobody":
            return queryset.filter(assignee__isnull=True)
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "response target"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("waiting", "Waiting for staff")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        waiting = queryset.filter(status__in=(S.OPEN, S.AWAITING_STAFF))
        if self.value() == "yes":
            return waiting.filter(response_due_at__lt=timezone.now())
        if self.value() == "waiting":
            return waiting
        return queryset


ActionForm = Callable[[HttpRequest, QuerySet, Any], forms.Form]


@admin.register(Ticket)
class TicketAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "subject",
        "customer",
        "department",
        "status",
        "priority",
        "assignee",
        "response_due",
        "last_message_at",
    )
    list_display_links = ("number", "subject")
    list_filter = ("department", "status", "priority", AssignedFilter, OverdueFilter)
    show_facets = admin.ShowFacets.ALWAYS  # the queues' counts
    search_fields = ("=id", "subject", "customer__name", "customer__user__email")
    list_select_related = ("customer", "department", "assignee")
    fields = (
        "subject",
        "customer",
        "department",
        "status",
        "priority",
        "response_hours",
        "response_due_at",
        "assignee",
        "service",
        "subscription",
        "merged_into",
        "created_at",
        "last_message_at",
        "closed_at",
    )
    readonly_fields = fields
    actions = [
        "assign",
        "move_department",
        "change_priority",
        "put_on_hold",
        "close_tickets",
        "merge",
    ]
    change_form_template = "admin/support/ticket/change_form.html"

    has_reply_permission = permission_check("support.reply_ticket")
    has_assign_permission = permission_check("support.assign_ticket")
    has_merge_permission = permission_check("support.merge_ticket")
    has_manage_permission = permission_check("support.change_ticket")

    @admin.display(description="Ticket", ordering="id")
    def number(self, ticket: Ticket) -> str:
        return f"#{ticket.pk}"

    @admin.display(description="Answer due", ordering="response_due_at")
    def response_due(self, ticket: Ticket) -> str:
        if ticket.response_due_at is None or ticket.is_closed:
            return "-"
        due = timezone.localtime(ticket.response_due_at).strftime("%Y-%m-%d %H:%M")
        if ticket.is_overdue:
            return format_html('<span class="ticket-overdue">Overdue · {}</span>', due)
        return due

    # --- the ticket's page: the conversation and the reply form ------------------------------

    def get_urls(self):
        custom = [
            path(
                "<int:ticket_id>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="support_ticket_reply",
            ),
        ]
        return custom + super().get_urls()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        ticket = Ticket.objects.filter(pk=object_id).select_related("department").first()
        if ticket is not None:
            extra_context = {**(extra_context or {}), **self._conversation(request, ticket)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _conversation(
        self, request: HttpRequest, ticket: Ticket, form: StaffReplyForm | None = None
    ) -> dict[str, Any]:
        canned = canned_responses_for(ticket=ticket)
        if form is None:
            initial: dict[str, Any] = {"request_key": uuid.uuid4().hex}
            chosen = object_id(request.GET.get("canned", ""))
            text = (
                canned.filter(pk=chosen).values_list("body", flat=True).first() if chosen else None
            )
            if text:
                initial["body"] = text
            form = StaffReplyForm(initial=initial)
        return {
            "conversation": ticket_messages_for_staff(ticket=ticket),
            "reply_form": form,
            "reply_url": reverse("admin:support_ticket_reply", args=[ticket.pk]),
            "can_reply": self.has_reply_permission(request),
            "canned_responses": canned,
        }

    def reply_view(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        if not self.has_reply_permission(request) or request.method != "POST":
            raise PermissionDenied
        ticket = get_object_or_404(Ticket, pk=ticket_id)
        form = StaffReplyForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.ticket_reply_by_staff(
                    staff=request.user,
                    ticket_id=ticket.pk,
                    body=data["body"],
                    internal=data["internal"],
                    status=data["status"],
                    attachments=data["attachments"],
                    idempotency_key=data["request_key"],
                    meta=RequestMeta.from_request(request),
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                done = "Internal note added." if data["internal"] else "Reply sent to the customer."
                self.message_user(request, done, messages.SUCCESS)
                return redirect("admin:support_ticket_change", ticket.pk)
        for errors in form.errors.values():
            for error in errors:
                self.message_user(request, f"Not sent: {error}", messages.ERROR)
        return redirect("admin:support_ticket_change", ticket.pk)

    # --- actions ---------------------------------------------------------------------------

    def _with_form(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        title: str,
        make: ActionForm,
        apply: Callable[[forms.Form, list[int]], int],
        action: str,
    ) -> HttpResponse | None:
        """An action that asks for one value first (an intermediate page, as delete asks to
        confirm), then applies it to the selected tickets."""
        ids = list(queryset.values_list("pk", flat=True))
        form = make(request, queryset, request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                done = apply(form, ids)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f"{title}: {done} ticket(s) changed.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "tickets": queryset,
            "ids": ids,
            "action": action,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/support/ticket/action_form.html", context)

    def _meta(self, request: HttpRequest) -> RequestMeta:
        return RequestMeta.from_request(request)

    @admin.action(description="Assign selected tickets", permissions=["assign"])
    def assign(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        staff = User.objects.filter(is_staff=True, is_active=True).order_by("email")
        return self._with_form(
            request,
            queryset,
            title="Assign tickets",
            make=lambda request, queryset, data: AssignForm(
                data, staff=staff, initial={"assignee": request.user.pk}
            ),
            apply=lambda form, ids: services.ticket_assign(
                ticket_ids=ids,
                assignee=form.cleaned_data["assignee"],
                actor=request.user,
                meta=self._meta(request),
            ),
            action="assign",
        )

    @admin.action(description="Move selected tickets to a department", permissions=["manage"])
    def move_department(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._with_form(
            request,
            queryset,
            title="Move tickets",
            make=lambda request, queryset, data: DepartmentForm(
                data, departments=Department.objects.all()
            ),
            apply=lambda form, ids: services.ticket_move(
                ticket_ids=ids,
                department_id=form.cleaned_data["department"].pk,
                actor=request.user,
                meta=self._meta(request),
            ),
            action="move_department",
        )

    @admin.action(description="Change priority of selected tickets", permissions=["manage"])
    def change_priority(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._with_form(
            request,
            queryset,
            title="Change priority",
            make=lambda request, queryset, data: PriorityForm(data),
            apply=lambda form, ids: services.ticket_priority_set(
                ticket_ids=ids,
                priority=form.cleaned_data["priority"],
                actor=request.user,
                meta=self._meta(request),
            ),
            action="change_priority",
        )

    @admin.action(description="Merge selected tickets into another", permissions=["merge"])
    def merge(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        customers = queryset.values("customer")
        targets = Ticket.objects.filter(customer__in=customers, merged_into__isnull=True)
        return self._with_form(
            request,
            queryset,
            title="Merge tickets",
            make=lambda request, queryset, data: MergeForm(data, tickets=targets),
            apply=lambda form, ids: services.ticket_merge(
                ticket_ids=ids,
                into_id=form.cleaned_data["into"].pk,
                actor=request.user,
                meta=self._meta(request),
            ),
            action="merge",
        )

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = services.ticket_status_set(
            ticket_ids=ids, status=status, actor=request.user, meta=self._meta(request)
        )
        self.message_user(request, f"{done} ticket(s) now {S(status).label.lower()}.")

    @admin.action(description="Put selected tickets on hold", permissions=["manage"])
    def put_on_hold(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, S.ON_HOLD)

    @admin.action(description="Close selected tickets", permissions=["manage"])
    def close_tickets(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, S.CLOSED)
