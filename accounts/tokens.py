"""Signed, expiring tokens for email verification links."""

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Like password reset tokens (HMAC of user state and a timestamp, PASSWORD_RESET_TIMEOUT
    expiry) but bound to the email address, so a link stops working once the address changes.

    Links are only made for unverified accounts, so the hash is bound to that state ("None":
    no verification time) rather than to the account's current one: the link that verified an
    account still checks on a repeated click (answered as success, nothing done), while any
    other token for a verified account fails."""

    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp: int) -> str:
        return f"{user.pk}{user.email}None{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()
