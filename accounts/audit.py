"""The audit actions accounts declares: the `account.*` namespace."""

from billing_portal.common.audit import AuditActions


class AccountAudit(AuditActions):
    ACCOUNT_REGISTERED = "account.registered", "Account registered"
    EMAIL_VERIFIED = "account.email_verified", "Email verified"
    LOGIN = "account.login", "Logged in"
    LOGIN_FAILED = "account.login_failed", "Login failed"
    LOGIN_LOCKED_OUT = "account.login_locked_out", "Login locked out"
    LOGOUT = "account.logout", "Logged out"
    PASSWORD_CHANGED = "account.password_changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "account.password_reset_requested", "Password reset requested"
    PROFILE_CHANGED = "account.profile_changed", "Profile changed"
