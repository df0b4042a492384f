from django.urls import path

from provisioning import views

app_name = "provisioning"

urlpatterns = [
    path("", views.ServiceListView.as_view(), name="service_list"),
]
