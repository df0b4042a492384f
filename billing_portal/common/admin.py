"""Admin helpers shared by the apps, and the admin of the kernel's outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers, widgets
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext

from billing_portal.common.audit_registry import audit_actions
from billing_portal.common.models import AuditEvent, OutboxMessage
from billing_portal.common.outbox import outbox_relay


class ReadOnlyAdminMixin:
    """For records that are evidence (audit events, ledgers, numbered documents, run logs):
    staff can list, search and open them, never add, edit or delete them here. Changes go
    through services, offered as admin actions or custom views."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def permission_check(permission: str) -> Callable[..., bool]:
    """A `has_<name>_permission` method for a ModelAdmin: whether the user holds
    `permission` ("app_label.codename"). `@admin.action(permissions=["<name>"])` offers the
    action only then; custom admin views call the same method and refuse with 403."""

    def check(model_admin, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(permission)

    check.__name__ = f"has_{permission.split('.')[1]}_permission"
    return check


# --- Tables that grow without bound --------------------------------------------------------


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered list of a large table from PostgreSQL's statistics instead of
    reading every row: `pg_class.reltuples`, which autovacuum's ANALYZE keeps current, once
    it says ESTIMATE_FROM rows or more. Smaller tables, filtered and searched lists, and
    other databases are counted exactly. Either way it is one query: the exact count is a
    sub-query PostgreSQL runs only when the estimate is small. The estimate can be a little
    off, so the last page links may be a little short or long; filters count exactly."""

    ESTIMATE_FROM = 10_000
    estimated = False  # whether `count` is the estimate (the list then says "about")

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not _is_whole_table(queryset):
            return super().count
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(  # the table name is the model's, quoted; values are parameters
                "SELECT CASE WHEN c.reltuples >= %s THEN c.reltuples::bigint "  # noqa: S608
                f"ELSE (SELECT COUNT(*) FROM {table}) END, c.reltuples >= %s "
                "FROM pg_class c WHERE c.oid = %s::regclass",
                [self.ESTIMATE_FROM, self.ESTIMATE_FROM, table],
            )
            count, self.estimated = cursor.fetchone()
        return int(count)


def _is_whole_table(queryset: object) -> bool:
    """Whether counting `queryset` counts every row of its table."""
    if not isinstance(queryset, QuerySet):
        return False
    query = queryset.query
    return not (
        query.where
        or query.distinct
        or query.is_sliced
        or query.combinator
        or query.group_by is not None
    )


class LargeTableAdminMixin:
    """For the staff lists of tables that grow with every invoice, payment or event: an
    estimated count for the unfiltered list and no second, unfiltered count next to a
    filtered one. Their list filters must not read the table either (no
    AllValuesFieldListFilter on a free-text column: use `values_filter`), nor may
    `date_hierarchy`, whose year and month links read every row's date: use a
    DateFieldListFilter, which offers the same ranges without a query. A page is 50 rows:
    what a page costs is rendering its rows (each cell formatted by the admin), not reading
    them, and 100 rows took a 100 ms budget on their own (bench/pages.py)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def action_checkbox(self, obj: models.Model) -> str:
        """The row's checkbox for actions, the same markup as Django's, without rendering a
        form widget's template for every row (a third of a 50-row page's time)."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )


def values_filter(
    field_name: str, title: str, values: Callable[[], Iterable[tuple[str, str]]]
) -> type[admin.SimpleListFilter]:
    """A list filter on `field_name` offering the known `values` (value, label) instead of
    asking the table for its distinct values, as AllValuesFieldListFilter does."""

    class ValuesFilter(admin.SimpleListFilter):
        parameter_name = field_name

        def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
            return list(values())

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            value = self.value()
            return queryset.filter(**{field_name: value}) if value else queryset

    ValuesFilter.title = title
    return ValuesFilter


def currency_filter(field_name: str = "currency") -> type[admin.SimpleListFilter]:
    """A filter on a currency column offering the currencies the portal sells."""
    title = field_name.replace("_", " ")
    return values_filter(field_name, title, lambda: [(c, c) for c in settings.CURRENCIES])


# --- Choosing one of many: autocomplete ----------------------------------------------------


class AutocompleteSelect(widgets.AutocompleteSelect):
    """Django's autocomplete widget, except that a value that cannot be an id of the target
    (typed into a URL, or posted) renders as nothing chosen instead of failing the page
    with a 500: the form's own validation still reports it."""

    def optgroups(self, name: str, value: list, attr: dict | None = None) -> list:
        target = self.field.target_field
        return super().optgroups(name, [item for item in value if _is_id(target, item)], attr)


def _is_id(field: models.Field, value: object) -> bool:
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True


def autocomplete(model: type[models.Model], field_name: str) -> AutocompleteSelect:
    """The widget for a form field that picks what `model.field_name` points at (customers,
    invoices: too many for a select). It searches with the target admin's `search_fields`
    and answers only staff who may view the target."""
    return AutocompleteSelect(model._meta.get_field(field_name), admin.site)


class AutocompleteAdminMixin:
    """A ModelAdmin whose `autocomplete_fields` use the widget above."""

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- The kernel's own tables ---------------------------------------------------------------


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("unsent", "Not sent yet"), ("sent", "Sent")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "unsent":
            return queryset.filter(sent_at__isnull=True, consumed_at__isnull=True)
        if self.value() == "sent":
            return queryset.exclude(sent_at__isnull=True, consumed_at__isnull=True)
        return queryset


def _task_names() -> list[tuple[str, str]]:
    """The tasks the portal registers (asked of Celery, not of every queued message)."""
    names = (name for name in current_app.tasks if not name.startswith("celery."))
    return [(name, name) for name in sorted(names)]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the portal queued, newest first, with why a message is unsent (broker down,
    unknown task) and how often publishing was tried ("Not sent yet" lists those, from
    their partial index); the relay sends them every 30 s, or "Send now"."""

    list_display = ("id", "task_name", "created_at", "sent", "attempts", "error", "sent_at")
    list_filter = (OutboxStateFilter, values_filter("task_name", "task name", _task_names))
    search_fields = ("task_name", "dedupe_key", "last_error")
    ordering = ("-id",)  # the primary key's order: a page is an index range
    actions = ["relay_now"]

    has_relay_permission = permission_check("common.relay_outboxmessage")

    @admin.display(boolean=True, description="sent")
    def sent(self, obj: OutboxMessage) -> bool:
        return obj.sent_at is not None or obj.consumed_at is not None

    @admin.display(description="last error")
    def error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:120]

    @admin.action(description="Send selected messages now", permissions=["relay"])
    def relay_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        published = outbox_relay(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{published} message(s) sent to the broker.", messages.INFO)


def _object_types() -> list[tuple[str, str]]:
    """What audit events can be about: every model (asked of the code, not the log)."""
    return sorted((m._meta.label_lower, m._meta.label_lower) for m in apps.get_models())


@admin.register(AuditEvent)
class AuditEventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit log is evidence: staff can search and filter it but never edit it."""

    list_display = (
        "created_at",
        "action_label",
        "actor_label",
        "customer",
        "object_type",
        "ip_address",
    )
    list_filter = (
        # The actions the apps declare (the column has no choices to offer), under the
        # parameter the field filter had, so links staff kept still work.
        values_filter("action__exact", "action", audit_actions.choices),
        values_filter("object_type", "object type", _object_types),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("actor_label", "customer__name", "customer__user__email", "object_id")
    list_select_related = ("customer",)
    # The event's page shows the action's label too, as a field with choices would.
    fields = (
        "created_at",
        "action_label",
        "actor",
        "actor_label",
        "customer",
        "object_type",
        "object_id",
        "ip_address",
        "user_agent",
        "details",
    )
    readonly_fields = ("action_label",)

    @admin.display(description="action", ordering="action")
    def action_label(self, obj: AuditEvent) -> str:
        return obj.get_action_display()


# Outbound webhooks' admins (endpoints, deliveries) and email overrides' admin (staff's
# wording of emails) are registered by their own modules.
from billing_portal.common import email_admin, webhook_admin  # noqa: E402, F401
