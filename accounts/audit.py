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
    DATA_EXPORT_REQUESTED = "account.data_export_requested", "Data archive requested"
    DATA_EXPORT_READY = "account.data_export_ready", "Data archive ready"
    DATA_EXPORT_FAILED = "account.data_export_failed", "Data archive could not be built"
    DATA_EXPORT_DOWNLOADED = "account.data_export_downloaded", "Data archive downloaded"
    CUSTOMER_ERASED = "account.erased", "Personal data erased"
    SESSION_ENDED = "account.session_ended", "Signed out elsewhere"
    EMAIL_CHANGE_REQUESTED = "account.email_change_requested", "Email change requested"
    EMAIL_CHANGED = "account.email_changed", "Email changed"
    ACTING_STARTED = "account.acting_started", "Staff started acting as the customer"
    ACTING_ENDED = "account.acting_ended", "Staff stopped acting as the customer"
    CREATED_BY_STAFF = "account.created_by_staff", "Account created by staff"


class StaffNoteAudit(AuditActions):
    """Staff notes on a customer: staff-only, so the customer's activity log leaves this
    namespace out (accounts.selectors). The note's body is never in the event."""

    NOTE_ADDED = "staff_note.added", "Staff note added"
    NOTE_EDITED = "staff_note.edited", "Staff note edited"
    NOTE_PINNED = "staff_note.pinned", "Staff note pinned"
    NOTE_UNPINNED = "staff_note.unpinned", "Staff note unpinned"
    NOTE_DELETED = "staff_note.deleted", "Staff note deleted"


class ApiKeyAudit(AuditActions):
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
