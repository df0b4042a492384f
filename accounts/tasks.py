"""Account maintenance tasks."""

from celery import shared_task

from accounts.data_rights import data_exports_prune
from accounts.services import idempotency_keys_prune, login_logs_prune
from accounts.user_sessions import sessions_clear_expired


@shared_task(name="accounts.login_logs_prune")
def login_logs_prune_task() -> int:
    """Daily: delete old login logs; returns how many rows went."""
    return login_logs_prune()


@shared_task(name="accounts.sessions_clear_expired")
def sessions_clear_expired_task() -> int:
    """Daily: delete expired sessions and the rows listing them (nothing else removes them
    from the database)."""
    return sessions_clear_expired()


@shared_task(name="accounts.data_exports_prune")
def data_exports_prune_task() -> int:
    """Daily: delete data archives whose link expired; returns how many went."""
    return data_exports_prune()


@shared_task(name="accounts.idempotency_keys_prune")
def idempotency_keys_prune_task() -> int:
    """Daily: forget the API's stored answers to old Idempotency-Keys."""
    return idempotency_keys_prune()
