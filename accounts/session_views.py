"""Signed-in sessions: the list on the client area's security page and on the staff's own
admin page, and ending one or all others. Services: accounts/user_sessions.py."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from accounts import user_sessions
from accounts.models import UserSession
from accounts.security_views import safe_next, sessions_context
from billing_portal.common.request import RequestMeta


class SessionEndView(LoginRequiredMixin, View):
    """POST: sign out one of the user's other sessions (another user's is not found)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            user_sessions.user_session_end(
                user=request.user,
                session_id=pk,
                current_key=request.session.session_key,
                meta=RequestMeta.from_request(request),
            )
        except UserSession.DoesNotExist as error:
            raise Http404 from error
        messages.success(request, "That session was signed out.")
        return HttpResponseRedirect(safe_next(request, reverse("accounts:security")))


class SessionsEndOthersView(LoginRequiredMixin, View):
    """POST: sign out every session of the user but this one."""

    def post(self, request: HttpRequest) -> HttpResponse:
        ended = user_sessions.user_sessions_end_others(
            user=request.user,
            keep_key=request.session.session_key,
            reason="signed_out_others",
            meta=RequestMeta.from_request(request),
        )
        if ended:
            messages.success(request, f"{ended} other session{'s' * (ended != 1)} signed out.")
        else:
            messages.info(request, "There were no other sessions.")
        return HttpResponseRedirect(safe_next(request, reverse("accounts:security")))


def _staff_sessions(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        **sessions_context(request),
        "title": "My sessions",
        "next": request.path,
    }
    return render(request, "admin/my_sessions.html", context)


# The staff's own sessions in the admin: every staff user may see and end their own, so no
# permission beyond being staff (admin_view) is asked.
staff_sessions = admin.site.admin_view(_staff_sessions)
