"""The staff's own sessions in the admin (/admin/my-sessions/), mounted by billing_portal/urls.py
before the admin's own URLs, whose app pattern would take the path."""

from django.urls import path

from accounts import session_views

urlpatterns = [
    path("", session_views.staff_sessions, name="staff-sessions"),
]
