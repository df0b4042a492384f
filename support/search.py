"""Knowledge-base search. On PostgreSQL: full-text search over the title (weighted most),
the summary and the body, in English (stemmed: "invoices" finds "invoice"), ranked, on the
expression GIN index migration 0003 creates from ARTICLE_VECTOR (the query uses the very
same expression, so the planner can use the index). Elsewhere (the embedded SQLite of
`make run`): every word of the query must be in the title, summary or body (icontains)."""

from __future__ import annotations

import operator
from functools import reduce

from django.contrib.postgres.search import (
    CombinedSearchVector,
    SearchQuery,
    SearchRank,
    SearchVector,
)
from django.db import connection
from django.db.models import Q, QuerySet

SEARCH_CONFIG = "english"
QUERY_MAX = 200  # characters of a query that are searched
WORDS_MAX = 8  # words of a query that are searched
SUGGEST_WORD_MIN = 3  # shorter words of a subject ("my", "is") suggest nothing


def article_vector() -> CombinedSearchVector:
    """The expression of the GIN index and of the query (they must stay identical)."""
    return (
        SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("summary", weight="B", config=SEARCH_CONFIG)
        + SearchVector("body", weight="C", config=SEARCH_CONFIG)
    )


def search_words(text: str) -> list[str]:
    """The query's words: printable, at most WORDS_MAX of them."""
    cleaned = "".join(char if char.isprintable() else " " for char in text[:QUERY_MAX])
    return cleaned.split()[:WORDS_MAX]


def articles_matching(articles: QuerySet, text: str, *, any_word: bool = False) -> QuerySet:
    """`articles` that match `text`, best first (none for an empty query): every word (a
    search, with websearch syntax on PostgreSQL: "a phrase", -word, or), or with `any_word`
    any of them (the suggestions for a ticket's subject, a sentence rather than keywords)."""
    words = search_words(text)
    if any_word:
        words = [word for word in words if len(word) >= SUGGEST_WORD_MIN]
    if not words:
        return articles.none()
    if connection.vendor == "postgresql":
        query = _postgres_query(words, any_word=any_word)
        return (
            articles.annotate(search=article_vector(), rank=SearchRank(article_vector(), query))
            .filter(search=query)
            .order_by("-rank", "title", "id")
        )
    matches = [
        Q(title__icontains=word) | Q(summary__icontains=word) | Q(body__icontains=word)
        for word in words
    ]
    where = reduce(operator.or_ if any_word else operator.and_, matches)
    return articles.filter(where).order_by("title", "id")


def _postgres_query(words: list[str], *, any_word: bool) -> SearchQuery:
    if not any_word:
        return SearchQuery(" ".join(words), search_type="websearch", config=SEARCH_CONFIG)
    queries = [SearchQuery(word, search_type="plain", config=SEARCH_CONFIG) for word in words]
    return reduce(operator.or_, queries)
