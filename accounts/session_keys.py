"""Session keys of the login and second-factor flows, in one place."""

# Whether the signed-in user had a second factor when the session logged in (True/False).
HAS_FACTOR = "accounts_has_second_factor"
# A password accepted and waiting for its second factor: {"user": id, "backend": path, "at": ts}.
PENDING = "accounts_second_factor_pending"
# When the password and a code were last confirmed in this session (a timestamp).
REAUTH_AT = "accounts_reauth_at"
# The TOTP device being set up, and the WebAuthn challenges waiting for an answer.
TOTP_SETUP = "accounts_totp_setup"
PASSKEY_REGISTER_CHALLENGE = "accounts_passkey_register_challenge"
PASSKEY_LOGIN_CHALLENGE = "accounts_passkey_login_challenge"
# Recovery codes just generated, shown once on the next page and then dropped.
NEW_RECOVERY_CODES = "accounts_new_recovery_codes"
# The signed-in session's clock (accounts/user_sessions.py): when it logged in and when its
# last-seen time was last written (timestamps), and its UserSession row with the session key
# that row was last written with (Django rotates keys; a mismatch writes it again).
SESSION_STARTED = "accounts_session_started"
SESSION_SEEN = "accounts_session_seen"
SESSION_RECORD = "accounts_session_record"
SESSION_RECORD_KEY = "accounts_session_record_key"
# An API key just created ({"name": ..., "token": ...}), shown once on the next page.
NEW_API_KEY = "accounts_new_api_key"
