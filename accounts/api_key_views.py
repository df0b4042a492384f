"""Client area: the user's API keys (list, create, revoke with a confirmation). A new key
is shown once, on the page the creation redirects to, and is never readable again."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import ListView

from accounts import services
from accounts import session_keys as keys
from accounts.errors import ApiKeyRefused
from accounts.forms import ApiKeyForm
from accounts.mixins import NotWhileActingMixin
from accounts.models import ApiKey
from accounts.selectors import api_key_get_for_user, api_key_list_for_user
from billing_portal.common.request import RequestMeta


class ApiKeyListView(LoginRequiredMixin, ListView):
    template_name = "accounts/api_key_list.html"
    context_object_name = "api_keys"
    paginate_by = 25

    def get_queryset(self):
        return api_key_list_for_user(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["new_key"] = self.request.session.pop(keys.NEW_API_KEY, None)
        return context


class ApiKeyCreateView(NotWhileActingMixin, LoginRequiredMixin, View):
    acting_refused_what = "create or revoke the customer's API keys"
    acting_refused_methods = ("POST",)
    template_name = "accounts/api_key_form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": ApiKeyForm(user=request.user)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                new = services.api_key_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.expires_at(),
                    allowed_ips=form.cleaned_data["allowed_ips"],
                    meta=RequestMeta.from_request(request),
                )
            except ApiKeyRefused as error:
                form.add_error(None, error.message)
            else:
                request.session[keys.NEW_API_KEY] = {"name": new.api_key.name, "token": new.token}
                return redirect("accounts:api_key_list")
        return render(request, self.template_name, {"form": form}, status=400)


class ApiKeyRevokeView(NotWhileActingMixin, LoginRequiredMixin, View):
    """GET asks for confirmation; POST revokes. Someone else's key is not found."""

    acting_refused_what = "create or revoke the customer's API keys"
    acting_refused_methods = ("POST",)

    template_name = "accounts/api_key_revoke.html"

    def _key(self, request: HttpRequest, pk: int) -> ApiKey:
        try:
            return api_key_get_for_user(user=request.user, api_key_id=pk)
        except ApiKey.DoesNotExist as error:
            raise Http404("No such API key.") from error

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render(request, self.template_name, {"api_key": self._key(request, pk)})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        api_key = self._key(request, pk)
        services.api_key_revoke(
            api_key_id=api_key.pk,
            user=request.user,
            actor=request.user,
            meta=RequestMeta.from_request(request),
        )
        messages.success(request, f"The key “{api_key.name}” was revoked; it no longer works.")
        return redirect("accounts:api_key_list")
