"""The staff infrastructure API under /api/v1/staff/ (namespace `api`): servers and
services (billing/api/staff_servers.py)."""

from django.urls import path

from billing.api import staff_servers as views

urlpatterns = [
    path("servers/", views.ServerListApi.as_view(), name="staff_server_list"),
    path("servers/status/", views.ServerStatusApi.as_view(), name="staff_server_status"),
    path("servers/<int:pk>/", views.ServerDetailApi.as_view(), name="staff_server_detail"),
    path("servers/<int:pk>/check/", views.ServerCheckApi.as_view(), name="staff_server_check"),
    path("services/", views.StaffServiceListApi.as_view(), name="staff_service_list"),
    path("services/<int:pk>/", views.StaffServiceDetailApi.as_view(), name="staff_service_detail"),
    path(
        "services/<int:pk>/provision/",
        views.StaffServiceProvisionApi.as_view(),
        name="staff_service_provision",
    ),
    path(
        "services/<int:pk>/suspend/",
        views.StaffServiceSuspendApi.as_view(),
        name="staff_service_suspend",
    ),
    path(
        "services/<int:pk>/unsuspend/",
        views.StaffServiceUnsuspendApi.as_view(),
        name="staff_service_unsuspend",
    ),
    path(
        "services/<int:pk>/terminate/",
        views.StaffServiceTerminateApi.as_view(),
        name="staff_service_terminate",
    ),
    path(
        "services/<int:pk>/stats/", views.StaffServiceStatsApi.as_view(), name="staff_service_stats"
    ),
]
