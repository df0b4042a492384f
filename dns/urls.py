from django.urls import path

from dns import views

app_name = "dns"

urlpatterns = [
    path("", views.ZoneListView.as_view(), name="zone_list"),
]
