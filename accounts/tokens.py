"""Signed, expiring, single-use tokens for email verification links."""

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Like password reset tokens (HMAC of user state and a timestamp, PASSWORD_RESET_TIMEOUT
    expiry) but bound to the email and its verification time, so a link stops working once
    used or once the email address changes."""

    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.email_verified_at}{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()
