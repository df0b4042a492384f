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
    SECOND_FACTOR_ENABLED = "account.second_factor_enabled", "Second factor added"
    SECOND_FACTOR_REMOVED = "account.second_factor_removed", "Second factor removed"
    RECOVERY_CODES_GENERATED = "account.recovery_codes_generated", "Recovery codes generated"
    RECOVERY_CODE_USED = "account.recovery_code_used", "Recovery code used"


class ApiKeyAudit(AuditActions):
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
