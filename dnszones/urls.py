from django.urls import path

from dnszones import views

app_name = "dns"

urlpatterns = [
    path("", views.ZoneListView.as_view(), name="zone_list"),
]
