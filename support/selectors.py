"""The support desk's reads, scoped by the caller: a customer's own tickets, messages
without internal notes and attachments of their own tickets; staff read everything."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import Customer
from support.models import (
    Announcement,
    AnnouncementOptOut,
    Article,
    ArticleCategory,
    CannedResponse,
    Department,
    Ticket,
    TicketAttachment,
    TicketMessage,
)
from support.search import articles_matching

ARTICLE_SUGGESTIONS = 5


def departments_offered() -> QuerySet[Department]:
    return Department.objects.filter(is_active=True)


def ticket_list_for_customer(*, customer: Customer) -> QuerySet[Ticket]:
    """The customer's tickets, latest activity first (on support_ticket_cust_idx)."""
    return (
        Ticket.objects.filter(customer=customer)
        .select_related("department")
        .order_by("-last_message_at", "-id")
    )


def ticket_get_for_customer(*, customer: Customer, ticket_id: int) -> Ticket:
    """The customer's own ticket (DoesNotExist for anyone else's)."""
    return Ticket.objects.select_related("department", "service__product").get(
        pk=ticket_id, customer=customer
    )


def _with_attachments(messages: QuerySet[TicketMessage]) -> QuerySet[TicketMessage]:
    files = TicketAttachment.objects.order_by("id")
    return messages.prefetch_related(Prefetch("attachments", queryset=files))


def ticket_messages_for_customer(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    """What the customer sees of the conversation: every message but internal notes."""
    rows = TicketMessage.objects.filter(ticket=ticket, internal=False).order_by("created_at", "id")
    return _with_attachments(rows)


def ticket_messages_for_staff(*, ticket: Ticket) -> QuerySet[TicketMessage]:
    """The whole conversation, internal notes included."""
    rows = TicketMessage.objects.filter(ticket=ticket).select_related("author")
    return _with_attachments(rows.order_by("created_at", "id"))


def attachment_get_for_customer(*, customer: Customer, attachment_id: int) -> TicketAttachment:
    """An attachment of the customer's own ticket, on a message they can see."""
    return TicketAttachment.objects.get(
        pk=attachment_id, ticket__customer=customer, message__internal=False
    )


def attachment_get(*, attachment_id: int) -> TicketAttachment:
    return TicketAttachment.objects.get(pk=attachment_id)


def canned_responses_for(*, ticket: Ticket) -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(
        Q(department__isnull=True) | Q(department=ticket.department_id), is_active=True
    )


# --- knowledge base: what customers read is published, always --------------------------


def _published_articles() -> QuerySet[Article]:
    return Article.objects.filter(status=Article.Status.PUBLISHED)


def article_categories_listed() -> QuerySet[ArticleCategory]:
    """Categories with at least one published article, each with that count."""
    published = Count("articles", filter=Q(articles__status=Article.Status.PUBLISHED))
    return (
        ArticleCategory.objects.annotate(article_count=published)
        .filter(article_count__gt=0)
        .order_by("position", "name", "id")
    )


def article_category_get(*, slug: str) -> ArticleCategory:
    """A category customers can open (DoesNotExist when it has nothing published)."""
    return article_categories_listed().get(slug=slug)


def article_list_for_category(*, category: ArticleCategory) -> QuerySet[Article]:
    """The category's published articles by title (on support_article_cat_idx)."""
    return _published_articles().filter(category=category).order_by("title", "id")


def article_get_published(*, slug: str) -> Article:
    """A published article (DoesNotExist for a draft or no such slug)."""
    return _published_articles().select_related("category").get(slug=slug)


def article_search(*, text: str) -> QuerySet[Article]:
    """Published articles matching `text`, best first (support/search.py)."""
    return articles_matching(_published_articles().select_related("category"), text)


def article_suggestions(*, subject: str) -> list[Article]:
    """A few published articles for a new ticket's subject (the form's suggestion list)."""
    articles = _published_articles().select_related("category")
    return list(articles_matching(articles, subject, any_word=True)[:ARTICLE_SUGGESTIONS])


# --- announcements -----------------------------------------------------------------------


def announcement_list_published() -> QuerySet[Announcement]:
    """What customers see: announcements published by now, newest first (on
    support_announcement_pub_idx); drafts and scheduled ones are not among them."""
    return Announcement.objects.filter(publish_at__lte=timezone.now(), is_draft=False).order_by(
        "-publish_at", "-id"
    )


def announcement_opted_out(*, customer: Customer) -> bool:
    return AnnouncementOptOut.objects.filter(customer=customer).exists()
