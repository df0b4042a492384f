"""Client-area account pages: registration, verification, login, passwords, profile and
activity log. The dashboard, which shows every app's figures, is billing's
(billing/views/dashboard.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from accounts import second_factor, security_views, services
from accounts.errors import EmailAlreadyRegistered, EmailChangeRefused, InvalidVerificationLink
from accounts.forms import (
    EmailChangeForm,
    EmailForm,
    LoginForm,
    ProfileForm,
    RegistrationForm,
)
from accounts.mixins import CustomerRequiredMixin, NotWhileActingMixin
from accounts.selectors import audit_event_list_for_customer, customer_get_for_user
from billing_portal.common.audit import AuditEvent
from billing_portal.common.request import RequestMeta
from billing_portal.common.throttle import throttled


def _base_url(request: HttpRequest) -> str:
    """The portal's address as the customer reached it, for links in emails."""
    return request.build_absolute_uri("/")


@method_decorator(throttled("register", field="email"), name="post")
class RegisterView(FormView):
    template_name = "accounts/register.html"
    form_class = RegistrationForm

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect("dashboard")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: RegistrationForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            services.customer_register(
                email=data["email"],
                password=data["password1"],
                name=data["name"],
                company=data["company"],
                country=data["country"],
                base_url=_base_url(self.request),
                meta=RequestMeta.from_request(self.request),
            )
        except EmailAlreadyRegistered as error:
            form.add_error("email", error.message)
            return self.form_invalid(form)
        return render(self.request, "accounts/register_done.html", {"email": data["email"]})


class VerifyEmailView(View):
    def get(self, request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
        try:
            services.email_verify(
                uidb64=uidb64, token=token, meta=RequestMeta.from_request(request)
            )
        except InvalidVerificationLink as error:
            return render(
                request,
                "accounts/verify_failed.html",
                {"error": error.message, "form": EmailForm()},
                status=400,
            )
        messages.success(request, "Your email address is verified. You can now log in.")
        return redirect("dashboard" if request.user.is_authenticated else "accounts:login")


@method_decorator(throttled("verification_resend", field="email"), name="post")
class ResendVerificationView(FormView):
    template_name = "accounts/resend_verification.html"
    form_class = EmailForm

    def form_valid(self, form: EmailForm) -> HttpResponse:
        services.email_verification_resend(
            email=form.cleaned_data["email"], base_url=_base_url(self.request)
        )
        messages.success(
            self.request,
            "If that address belongs to an account awaiting verification, a new link is on "
            "its way.",
        )
        return redirect("accounts:login")


@method_decorator(throttled("login", field="username"), name="post")
class LoginView(auth_views.LoginView):
    """The password; a user with a second factor is then asked for it (LoginCodeView) and is
    logged in only once it is accepted. A user without one is logged in here (staff, and
    customers where it is required, are then sent to enrolment by SecondFactorMiddleware)."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:
        user = form.get_user()
        if not second_factor.user_has_second_factor(user=user):
            return super().form_valid(form)
        security_views.pending_start(self.request, user)
        target = reverse("accounts:login_code")
        next_url = self.get_redirect_url()
        return HttpResponseRedirect(
            f"{target}?{urlencode({'next': next_url})}" if next_url else target
        )


class AdminLoginView(LoginView):
    """The admin's login (admin.site.login): the same two steps, back to the admin after.
    A signed-in user who is not staff sees the form (to log in as someone else) rather than
    being sent back to the admin, which would send them here again."""

    redirect_authenticated_user = False

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if request.method == "GET" and user.is_active and user.is_staff:
            return redirect("admin:index")
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")


@method_decorator(throttled("password_reset", field="email"), name="post")
class PasswordResetView(FormView):
    template_name = "accounts/password_reset_form.html"
    form_class = EmailForm

    def form_valid(self, form: EmailForm) -> HttpResponse:
        services.password_reset_request(
            email=form.cleaned_data["email"],
            base_url=_base_url(self.request),
            meta=RequestMeta.from_request(self.request),
        )
        return redirect("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form) -> HttpResponse:
        services.user_password_set(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            meta=RequestMeta.from_request(self.request),
            via_reset=True,
        )
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


class PasswordChangeView(NotWhileActingMixin, auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    acting_refused_what = "change the password"
    acting_refused_redirect = "accounts:profile"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form) -> HttpResponse:
        user = services.user_password_set(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            meta=RequestMeta.from_request(self.request),
            keep_session_key=self.request.session.session_key,
        )
        # Keep this session signed in (its key rotates); every other one was signed out.
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Your password was changed.")
        return HttpResponseRedirect(self.get_success_url())


class ProfileView(LoginRequiredMixin, FormView):
    template_name = "accounts/profile.html"
    form_class = ProfileForm
    success_url = reverse_lazy("accounts:profile")

    def get_form_kwargs(self) -> dict:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = customer_get_for_user(user=self.request.user)
        return kwargs

    def form_valid(self, form: ProfileForm) -> HttpResponse:
        services.customer_profile_update(
            user=self.request.user,
            data=form.cleaned_data,
            meta=RequestMeta.from_request(self.request),
        )
        messages.success(self.request, "Your profile was saved.")
        return super().form_valid(form)


class EmailChangeView(NotWhileActingMixin, LoginRequiredMixin, FormView):
    """The new address, after the password (and a current code, when enrolled) from the
    last few minutes; the change waits for the link emailed to that address."""

    acting_refused_what = "change the customer's email address"

    template_name = "accounts/email_change.html"
    form_class = EmailChangeForm

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and not security_views.reauth_is_recent(request):
            return security_views.reauth_redirect(request, reverse("accounts:email_change"))
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: EmailChangeForm) -> HttpResponse:
        new_email = form.cleaned_data["new_email"]
        try:
            services.email_change_request(
                user=self.request.user,
                new_email=new_email,
                base_url=_base_url(self.request),
                meta=RequestMeta.from_request(self.request),
            )
        except (EmailAlreadyRegistered, EmailChangeRefused) as error:
            form.add_error("new_email", error.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"We sent a link to {new_email}. Your email address changes when you open it.",
        )
        return redirect("accounts:profile")

    def form_invalid(self, form: EmailChangeForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class EmailChangeConfirmView(NotWhileActingMixin, View):
    """The link emailed to the new address: GET shows what will change (mail scanners that
    open links change nothing), POST makes the change."""

    acting_refused_what = "change the customer's email address"

    template_name = "accounts/email_change_confirm.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            user, new_email = services.email_change_token_read(token=token)
        except EmailChangeRefused as error:
            return self._refused(request, error.message)
        done = user.email == new_email
        return render(request, self.template_name, {"new_email": new_email, "done": done})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            user = services.email_change_confirm(
                token=token, meta=RequestMeta.from_request(request)
            )
        except (EmailChangeRefused, EmailAlreadyRegistered) as error:
            return self._refused(request, error.message)
        messages.success(request, f"Your email address is now {user.email}.")
        signed_in = request.user.is_authenticated and request.user.pk == user.pk
        return redirect("accounts:profile" if signed_in else "accounts:login")

    def _refused(self, request: HttpRequest, message: str) -> HttpResponse:
        context = {"error": message}
        return render(request, self.template_name, context, status=400)


class ActivityListView(CustomerRequiredMixin, ListView):
    template_name = "accounts/activity_list.html"
    context_object_name = "events"
    paginate_by = 25

    def get_queryset(self):
        return audit_event_list_for_customer(customer=self.customer)


class ActivityDetailView(CustomerRequiredMixin, DetailView):
    template_name = "accounts/activity_detail.html"
    context_object_name = "event"

    def get_object(self, queryset=None) -> AuditEvent:
        return get_object_or_404(
            audit_event_list_for_customer(customer=self.customer), pk=self.kwargs["pk"]
        )
