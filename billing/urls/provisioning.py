from django.urls import path

from billing.views import provisioning as views
from billing.views import self_service, self_service_backups

app_name = "provisioning"

urlpatterns = [
    path("", views.ServiceListView.as_view(), name="service_list"),
    path("<int:pk>/", views.ServiceDetailView.as_view(), name="service_detail"),
    path("<int:pk>/status/", views.ServiceStatusView.as_view(), name="service_status"),
    path("<int:pk>/login/", views.ServiceLoginView.as_view(), name="service_login"),
    path("<int:pk>/sandbox-panel/", views.SandboxPanelView.as_view(), name="sandbox_panel"),
    path("<int:pk>/change-plan/", views.ServicePlanChangeView.as_view(), name="service_change"),
    path(
        "<int:pk>/actions/<slug:name>/",
        self_service.ServiceActionView.as_view(),
        name="service_action",
    ),
    path(
        "<int:pk>/operations/<int:operation_id>/",
        self_service.ServiceOperationView.as_view(),
        name="service_operation",
    ),
    path(
        "<int:pk>/auto-backups/",
        self_service_backups.ServiceAutoBackupsView.as_view(),
        name="service_auto_backups",
    ),
]
