from django.urls import path

from billing.views import dns as views

app_name = "dns"

urlpatterns = [
    path("", views.ZoneListView.as_view(), name="zone_list"),
    path("plans/<int:pk>/", views.PlanConfirmView.as_view(), name="plan_confirm"),
    path("zones/<int:pk>/", views.ZoneDetailView.as_view(), name="zone_detail"),
    path("zones/<int:pk>/delete/", views.ZoneDeleteView.as_view(), name="zone_delete"),
]
