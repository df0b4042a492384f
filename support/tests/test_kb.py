"""The knowledge base: published articles only (drafts never reach a customer: pages,
search, suggestions), Markdown rendered safely, search by a word of the body (issue 18
acceptance 3) on PostgreSQL's full-text search (stemmed, ranked, on its GIN index) and on the
icontains fallback of the embedded SQLite, the new-ticket form's suggestions (JSON for the
script, and in the page without it), constant queries on a category's list, and staff
editing in the admin."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory
from billing.management.commands.seed_demo import CUSTOMER_EMAIL
from support import search
from support.demo import ANNOUNCEMENT_TITLE
from support.demo import ARTICLES as DEMO_ARTICLES
from support.models import Article, ArticleCategory
from support.selectors import article_search, article_suggestions
from support.services import article_save
from support.tests.helpers import department

pytestmark = pytest.mark.django_db

BODY = "Open the panel's *file manager* and upload into `public_html`, or use SFTP."


def category(slug: str = "hosting", name: str = "Web hosting") -> ArticleCategory:
    found, _ = ArticleCategory.objects.get_or_create(slug=slug, defaults={"name": name})
    return found


def article(
    title: str = "Uploading your website",
    *,
    body: str = BODY,
    published: bool = True,
    slug: str | None = None,
    in_category: ArticleCategory | None = None,
) -> Article:
    status = Article.Status.PUBLISHED if published else Article.Status.DRAFT
    return article_save(
        article=Article(
            category=in_category or category(),
            title=title,
            slug=slug or title.lower().replace(" ", "-").replace("'", ""),
            body=body,
            status=status,
        )
    )


def _page(client: Client, name: str, *args, **params) -> str:
    response = client.get(reverse(f"support:{name}", args=args), params)
    assert response.status_code == 200
    return response.content.decode()


def test_customers_see_published_articles_and_never_drafts(client):
    shown = article()
    draft = article("Refunds policy", body="Not ready: secret draft words.", published=False)
    other = category("drafts-only", "Drafts only")
    article("Hidden category article", published=False, in_category=other)

    index = _page(client, "kb_index")  # public: no sign-in needed
    assert "Web hosting" in index
    assert "1 article" in index
    assert "Drafts only" not in index  # a category with nothing published is not listed
    listing = _page(client, "kb_category", "hosting")
    assert shown.title in listing
    assert draft.title not in listing
    assert client.get(reverse("support:kb_category", args=["drafts-only"])).status_code == 404
    assert client.get(reverse("support:kb_article", args=[draft.slug])).status_code == 404
    assert client.get(reverse("support:kb_article", args=["no-such"])).status_code == 404
    assert draft.title not in _page(client, "kb_search", q="secret draft")
    suggested = client.get(reverse("support:kb_suggest"), {"subject": "secret draft"}).json()
    assert suggested == {"articles": []}


def test_an_article_is_rendered_as_markdown_without_raw_html(client):
    shown = article(body="**Bold** step <script>alert(1)</script> [x](javascript:alert(2))")
    page = _page(client, "kb_article", shown.slug)
    assert "<strong>Bold</strong>" in page
    assert "<script>alert(1)" not in page
    assert 'href="javascript' not in page
    assert "&lt;script&gt;" in page


def test_publishing_dates_the_article_once():
    draft = article(published=False)
    assert draft.published_at is None
    draft.status = Article.Status.PUBLISHED
    first = article_save(article=draft).published_at
    assert first is not None
    draft.title = "Uploading your website (fixed typo)"
    assert article_save(article=draft).published_at == first


# --- search (acceptance 3) ----------------------------------------------------------------


def test_search_finds_an_article_by_a_word_of_its_body(client):
    wanted = article()
    article("Paying with credit", body="Add credit under Billing and pay the invoice.")
    page = _page(client, "kb_search", q="SFTP")
    assert wanted.title in page
    assert "Paying with credit" not in page
    assert "1 article" in page
    assert "Nothing found" in _page(client, "kb_search", q="kubernetes")
    assert "Type a few words" in _page(client, "kb_search", q="   ")


@pytest.mark.postgres
def test_postgres_full_text_search_stems_ranks_and_uses_its_index():
    assert connection.vendor == "postgresql"
    in_title = article("Invoices explained", body="What each line means.")
    in_body = article("Paying", body="Every invoice can be paid by card.")
    article("Unrelated", body="Nothing about billing documents here.")
    found = list(article_search(text="invoice"))
    assert found == [in_title, in_body]  # stemmed ("invoices"), the title weighted first
    assert list(article_search(text='"paid by card"')) == [in_body]  # websearch phrases
    assert list(article_search(text="invoice -card")) == [in_title]
    # the query's expression is the index's: with sequential scans off the planner uses it
    query = search.SearchQuery("invoice", config=search.SEARCH_CONFIG)
    queryset = Article.objects.annotate(search=search.article_vector()).filter(search=query)
    with connection.cursor() as cursor:
        # (a handful of rows: the planner would rather read them all)
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "support_article_search_idx" in plan, plan


def test_the_fallback_matches_every_word_in_title_summary_or_body(monkeypatch):
    """What the embedded SQLite of `make run` runs (forced here on any database)."""
    monkeypatch.setattr(search, "connection", type("Fake", (), {"vendor": "sqlite"})())
    wanted = article()
    article("Paying with credit", body="Add credit under Billing and pay the invoice.")
    assert list(article_search(text="sftp")) == [wanted]  # case-insensitive, in the body
    assert list(article_search(text="upload SFTP")) == [wanted]
    assert list(article_search(text="upload invoice")) == []  # every word must match
    assert list(article_search(text="")) == []


def test_a_hostile_query_is_searched_as_text():
    article()
    for text in ("' OR 1=1 --", "\x00", "!!!", "a" * 5000, "& | ! ( ) :*", "<script>"):
        assert list(article_search(text=text)) == []


# --- the new-ticket form's suggestions -------------------------------------------------------


def test_the_suggestions_endpoint_answers_json_for_the_subject(client):
    wanted = article()
    article("Refunds", body="SFTP draft.", published=False)
    response = client.get(reverse("support:kb_suggest"), {"subject": "cannot upload via SFTP"})
    assert response.status_code == 200
    assert response.json() == {
        "articles": [
            {
                "title": wanted.title,
                "url": reverse("support:kb_article", args=[wanted.slug]),
                "category": "Web hosting",
            }
        ]
    }
    assert client.get(reverse("support:kb_suggest")).json() == {"articles": []}


def test_the_suggestions_are_at_most_five():
    for n in range(8):
        article(f"SFTP guide {n}")
    assert len(article_suggestions(subject="SFTP")) == 5


def test_the_ticket_form_offers_suggestions_with_and_without_script(customer, client):
    wanted = article()
    department()
    client.force_login(customer.user)
    page = _page(client, "ticket_create")
    assert 'data-kb-suggest-url="/support/kb/suggest/"' in page
    assert 'src="/static/js/kb_suggest.js"' in page  # a local file: CSP script-src 'self'
    assert "<script>" not in page.replace('<script src="', "")  # no inline script
    # without the script: a form shown again (with an error) lists them from the subject
    response = client.post(reverse("support:ticket_create"), {"subject": "SFTP upload fails"})
    assert response.status_code == 200
    assert reverse("support:kb_article", args=[wanted.slug]) in response.content.decode()


# --- queries ---------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_a_category_list_and_the_search_run_the_same_queries_for_2_and_20_articles(
    client, django_assert_num_queries
):
    for n in range(2):
        article(f"SFTP guide {n}")
    listing, found = reverse("support:kb_category", args=["hosting"]), "?q=SFTP"
    searching = reverse("support:kb_search") + found
    few, few_found = _queries(client, listing), _queries(client, searching)
    for n in range(2, 20):
        article(f"SFTP guide {n}")
    with django_assert_num_queries(few):
        client.get(listing)
    with django_assert_num_queries(few_found):
        client.get(searching)
    assert _queries(client, reverse("support:kb_index")) == _queries(
        client, reverse("support:kb_index")
    )


# --- staff ----------------------------------------------------------------------------------


def test_staff_write_and_publish_an_article_in_the_admin(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    hosting = category()
    response = client.post(
        reverse("admin:support_article_add"),
        {
            "title": "Changing your PHP version",
            "slug": "php-version",
            "category": hosting.pk,
            "summary": "",
            "body": "Open *PHP settings* in the panel.",
            "status": "published",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Article.objects.get(slug="php-version")
    assert saved.is_published
    assert saved.published_at is not None
    assert client.get(reverse("admin:support_article_changelist")).status_code == 200


def test_staff_without_the_permission_cannot_edit_articles(client):
    shown = article()
    viewer = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_article"))
    client.force_login(viewer)
    url = reverse("admin:support_article_change", args=[shown.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"title": "Defaced", "slug": shown.slug, "category": shown.category_id,
                      "body": "x", "status": "published"})  # fmt: skip
    shown.refresh_from_db()
    assert shown.title == "Uploading your website"
    assert client.get(reverse("admin:support_article_add")).status_code == 403


def test_acceptance_3_the_demo_knowledge_base_finds_an_article_by_a_body_word(client):
    """Issue 18 acceptance 3 on `make run`'s demo data (seed_demo, twice: idempotent)."""
    for _ in range(2):
        call_command("seed_demo", stdout=io.StringIO())
    assert Article.objects.count() == len(DEMO_ARTICLES)
    page = _page(client, "kb_search", q="SFTP")  # only in the body of the upload article
    assert "Uploading your website&#x27;s files" in page
    assert "Refunds (draft)" not in _page(client, "kb_search", q="draft")
    demo = User.objects.get(email=CUSTOMER_EMAIL)
    client.force_login(demo)
    assert ANNOUNCEMENT_TITLE in client.get(reverse("dashboard")).content.decode()
