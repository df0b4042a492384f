from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import (
    acting_views,
    api_key_views,
    data_views,
    preference_views,
    security_views,
    session_views,
    views,
)

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.RegisterView.as_view(), name="register"),
    path("verify/resend/", views.ResendVerificationView.as_view(), name="resend_verification"),
    path("verify/<uidb64>/<token>/", views.VerifyEmailView.as_view(), name="verify_email"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("email/", views.EmailChangeView.as_view(), name="email_change"),
    path(
        "email/confirm/<str:token>/",
        views.EmailChangeConfirmView.as_view(),
        name="email_change_confirm",
    ),
    # Staff acting as this customer end it here (the banner's button; accounts/acting.py).
    path("acting/stop/", acting_views.StopActingView.as_view(), name="stop_acting"),
    path("activity/", views.ActivityListView.as_view(), name="activity_list"),
    path("activity/<int:pk>/", views.ActivityDetailView.as_view(), name="activity_detail"),
    # Data rights (accounts/data_views.py).
    path("data/", data_views.DataExportView.as_view(), name="data_export"),
    path(
        "data/download/<str:token>/",
        data_views.DataExportDownloadView.as_view(),
        name="data_export_download",
    ),
    # API keys (accounts/api_key_views.py).
    path("api-keys/", api_key_views.ApiKeyListView.as_view(), name="api_key_list"),
    path("api-keys/new/", api_key_views.ApiKeyCreateView.as_view(), name="api_key_create"),
    path(
        "api-keys/<int:pk>/revoke/",
        api_key_views.ApiKeyRevokeView.as_view(),
        name="api_key_revoke",
    ),
    # The second factor (accounts/security_views.py).
    path("login/code/", security_views.LoginCodeView.as_view(), name="login_code"),
    path(
        "login/passkey/options/",
        security_views.PasskeyLoginOptionsView.as_view(),
        name="login_passkey_options",
    ),
    path("login/passkey/", security_views.PasskeyLoginView.as_view(), name="login_passkey"),
    path("security/", security_views.SecurityView.as_view(), name="security"),
    path("security/confirm/", security_views.ReauthView.as_view(), name="reauth"),
    path("security/totp/", security_views.TotpEnrolView.as_view(), name="totp_enrol"),
    path("security/totp/remove/", security_views.TotpRemoveView.as_view(), name="totp_remove"),
    path(
        "security/passkeys/options/",
        security_views.PasskeyRegisterOptionsView.as_view(),
        name="passkey_register_options",
    ),
    path(
        "security/passkeys/", security_views.PasskeyRegisterView.as_view(), name="passkey_register"
    ),
    path(
        "security/passkeys/<int:pk>/remove/",
        security_views.PasskeyRemoveView.as_view(),
        name="passkey_remove",
    ),
    path(
        "security/recovery-codes/",
        security_views.RecoveryCodesRegenerateView.as_view(),
        name="recovery_codes_regenerate",
    ),
    path(
        "security/disable/",
        security_views.SecondFactorDisableView.as_view(),
        name="second_factor_disable",
    ),
    # Signed-in sessions (accounts/session_views.py).
    path(
        "security/sessions/<int:pk>/end/",
        session_views.SessionEndView.as_view(),
        name="session_end",
    ),
    path(
        "security/sessions/end-others/",
        session_views.SessionsEndOthersView.as_view(),
        name="sessions_end_others",
    ),
    # Which optional emails the customer gets (accounts/preference_views.py).
    path(
        "email-preferences/",
        preference_views.EmailPreferencesView.as_view(),
        name="email_preferences",
    ),
]
