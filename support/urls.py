from django.urls import path

from support import views, views_kb

app_name = "support"

urlpatterns = [
    path("", views.TicketListView.as_view(), name="ticket_list"),
    path("new/", views.TicketCreateView.as_view(), name="ticket_create"),
    path("<int:pk>/", views.TicketDetailView.as_view(), name="ticket_detail"),
    path("<int:pk>/close/", views.TicketCloseView.as_view(), name="ticket_close"),
    path("<int:pk>/reopen/", views.TicketReopenView.as_view(), name="ticket_reopen"),
    path("files/<int:pk>/", views.AttachmentDownloadView.as_view(), name="attachment"),
    # the knowledge base (public) and announcements
    path("kb/", views_kb.KbIndexView.as_view(), name="kb_index"),
    path("kb/search/", views_kb.KbSearchView.as_view(), name="kb_search"),
    path("kb/suggest/", views_kb.KbSuggestView.as_view(), name="kb_suggest"),
    path("kb/category/<slug:slug>/", views_kb.KbCategoryView.as_view(), name="kb_category"),
    path("kb/article/<slug:slug>/", views_kb.KbArticleView.as_view(), name="kb_article"),
    path("announcements/", views_kb.AnnouncementListView.as_view(), name="announcement_list"),
    path(
        "announcements/unsubscribe/<str:token>/",
        views_kb.AnnouncementUnsubscribeView.as_view(),
        name="announcement_unsubscribe",
    ),
]
