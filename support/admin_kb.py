"""Staff screens of the knowledge base and announcements (imported by support/admin.py).

Articles and categories are edited here with the model permissions (a role without
`change_article` sees them read-only). Saving an article goes through `article_save`, which
dates its first publication. An announcement saved already published with its email on has
its first batch queued at once (otherwise the sweep does it when its date comes); once its
email has started, whom it goes to (email, essential) can no longer be changed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from support import services
from support.models import Announcement, Article, ArticleCategory
from support.tasks import announcement_email_task

EMAIL_PROGRESS = ("email_started_at", "emailed_count", "emailed_at")


@admin.register(ArticleCategory)
class ArticleCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "status", "published_at", "updated_at")
    list_filter = ("status", "category")
    list_select_related = ("category",)
    search_fields = ("title", "summary", "body")
    ordering = ("-updated_at", "-id")  # on support_article_updated_idx
    prepopulated_fields = {"slug": ("title",)}
    fields = ("title", "slug", "category", "summary", "body", "status", "published_at")
    readonly_fields = ("published_at",)

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        services.article_save(article=obj)


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ("title", "publish_at", "state", "email_customers", "essential", "emailed")
    list_filter = ("is_draft", "email_customers", "essential")
    search_fields = ("title",)
    ordering = ("-publish_at", "-id")  # on support_announcement_pub_idx
    fields = (
        "title",
        "body",
        "publish_at",
        "is_draft",
        "email_customers",
        "essential",
        *EMAIL_PROGRESS,
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Announcement | None = None) -> Any:
        if obj is not None and obj.email_started_at is not None:
            return ("email_customers", "essential", *EMAIL_PROGRESS)
        return EMAIL_PROGRESS

    @admin.display(description="State")
    def state(self, announcement: Announcement) -> str:
        if announcement.is_draft:
            return "Draft"
        return "Scheduled" if announcement.is_scheduled else "Published"

    @admin.display(description="Emailed")
    def emailed(self, announcement: Announcement) -> str:
        if not announcement.email_customers:
            return "-"
        if announcement.emailed_at is not None:
            return f"{announcement.emailed_count} customers"
        return "Sending" if announcement.email_started_at else "Not yet"

    def save_model(self, request: HttpRequest, obj: Announcement, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        due = obj.email_customers and not obj.is_draft and obj.publish_at <= timezone.now()
        if due and obj.emailed_at is None:
            pk = obj.pk
            transaction.on_commit(lambda: announcement_email_task.delay(pk))
