"""Errors raised by account services."""

from billing_portal.common.errors import DomainError


class AccountError(DomainError):
    code = "account_error"


class EmailAlreadyRegistered(AccountError):
    code = "email_already_registered"
    default_message = (
        "An account with this email address already exists. "
        "Log in, or reset your password if you have forgotten it."
    )


class InvalidVerificationLink(AccountError):
    code = "invalid_verification_link"
    default_message = "This verification link is invalid or has expired. Request a new one below."


class SecondFactorError(AccountError):
    """A code, passkey or enrolment step that was refused; the message says why."""

    code = "second_factor_refused"
    default_message = "The second factor was not accepted."


class StaffNoteRefused(AccountError):
    """A staff note that cannot be written: empty, too long, or not by staff."""

    code = "staff_note_refused"
    default_message = "The note was not saved."


class EmailChangeRefused(AccountError):
    """An email change that cannot be made (the same address, a link that expired or was
    superseded); the message says why."""

    code = "email_change_refused"
    default_message = "This link is invalid or has expired. Start the email change again."


class ApiKeyRefused(AccountError):
    """An API key that cannot be made as asked (bad scopes, network or expiry)."""

    code = "api_key_refused"
    default_message = "The API key could not be created."


class IdempotencyConflict(AccountError):
    """An Idempotency-Key used again while its first request is still running (409), or with
    a different request (422)."""

    code = "idempotency_conflict"

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code)
        self.status = status
