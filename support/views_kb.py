"""Client-area pages of the knowledge base and announcements.

The knowledge base is public (customers with a problem may not be able to sign in): the
categories, a category's articles, an article, the search, and the new-ticket form's
suggestions (JSON, for static/js/kb_suggest.js; the form works without it). Only published
articles are ever shown. Announcements are for signed-in customers; the unsubscribe link of
their emails works signed out (its token names the customer) and changes nothing on GET, so
a mail scanner opening the link unsubscribes nobody."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import ListView, TemplateView

from accounts.mixins import CustomerRequiredMixin
from billing_portal.common.request import RequestMeta
from support import services
from support.models import Article, ArticleCategory
from support.search import QUERY_MAX
from support.selectors import (
    announcement_list_published,
    announcement_opted_out,
    article_categories_listed,
    article_category_get,
    article_get_published,
    article_list_for_category,
    article_search,
    article_suggestions,
)


def _query(request: HttpRequest, name: str = "q") -> str:
    return request.GET.get(name, "")[:QUERY_MAX].strip()


class KbIndexView(TemplateView):
    template_name = "support/kb_index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["categories"] = article_categories_listed()
        return context


class KbCategoryView(ListView):
    template_name = "support/kb_category.html"
    context_object_name = "articles"
    paginate_by = 20
    category: ArticleCategory

    def get_queryset(self):
        try:
            self.category = article_category_get(slug=self.kwargs["slug"])
        except ArticleCategory.DoesNotExist as exc:
            raise Http404("No such category.") from exc
        return article_list_for_category(category=self.category)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(category=self.category, **kwargs)


class KbArticleView(TemplateView):
    template_name = "support/kb_article.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        try:
            article = article_get_published(slug=self.kwargs["slug"])
        except Article.DoesNotExist as exc:
            raise Http404("No such article.") from exc
        return super().get_context_data(article=article, **kwargs)


class KbSearchView(ListView):
    template_name = "support/kb_search.html"
    context_object_name = "articles"
    paginate_by = 20

    def get_queryset(self):
        return article_search(text=_query(self.request))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        query = _query(self.request)
        context = super().get_context_data(query=query, **kwargs)
        context["query_string"] = urlencode({"q": query}) if query else ""
        return context


class KbSuggestView(View):
    """Articles for a ticket's subject, as JSON: [{title, url, category}] (at most five)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        found = article_suggestions(subject=_query(request, "subject"))
        rows = [
            {
                "title": article.title,
                "url": reverse("support:kb_article", args=[article.slug]),
                "category": article.category.name,
            }
            for article in found
        ]
        response = JsonResponse({"articles": rows})
        response["Cache-Control"] = "private, max-age=60"
        return response


class AnnouncementListView(CustomerRequiredMixin, ListView):
    template_name = "support/announcement_list.html"
    context_object_name = "announcements"
    paginate_by = 10

    def get_queryset(self):
        return announcement_list_published()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["opted_out"] = announcement_opted_out(customer=self.customer)
        context["unsubscribe_url"] = reverse(
            "support:announcement_unsubscribe",
            args=[services.announcement_unsubscribe_token(self.customer.pk)],
        )
        return context


class AnnouncementUnsubscribeView(View):
    """The emails' link: a page with the button (GET changes nothing), then the change."""

    template_name = "support/announcement_unsubscribe.html"

    def _customer(self, token: str):
        customer = services.announcement_unsubscribe_customer(token)
        if customer is None:
            raise Http404("This link is not valid.")
        return customer

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        customer = self._customer(token)
        opted_out = announcement_opted_out(customer=customer)
        return render(request, self.template_name, {"opted_out": opted_out, "token": token})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        customer = self._customer(token)
        subscribed = request.POST.get("subscribe") == "1"
        services.announcement_subscription_set(
            customer=customer, subscribed=subscribed, meta=RequestMeta.from_request(request)
        )
        if subscribed:
            messages.success(request, "You will get our announcements by email again.")
        else:
            messages.success(
                request,
                "You will no longer get announcements by email. Service notices that concern "
                "every customer are still sent.",
            )
        return redirect("support:announcement_unsubscribe", token=token)
