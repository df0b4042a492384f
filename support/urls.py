from django.urls import path

from support import views

app_name = "support"

urlpatterns = [
    path("", views.TicketListView.as_view(), name="ticket_list"),
    path("new/", views.TicketCreateView.as_view(), name="ticket_create"),
    path("<int:pk>/", views.TicketDetailView.as_view(), name="ticket_detail"),
    path("<int:pk>/close/", views.TicketCloseView.as_view(), name="ticket_close"),
    path("<int:pk>/reopen/", views.TicketReopenView.as_view(), name="ticket_reopen"),
    path("files/<int:pk>/", views.AttachmentDownloadView.as_view(), name="attachment"),
]
