"""Celery tasks of the support desk: the sweep (every SUPPORT_SWEEP_MINUTES) finds the due
tickets in three queries and queues one task per ticket, which reloads and locks it; the
announcements' sweep (as often) queues the emails of those just published, a batch a task."""

from celery import shared_task

from support.services import (
    announcement_email_batch,
    announcements_due_for_email,
    ticket_auto_close,
    ticket_close_notice_send,
    ticket_overdue_alert,
    tickets_due,
)


@shared_task(name="support.ticket_close_notice")
def ticket_close_notice_task(ticket_id: int) -> bool:
    return ticket_close_notice_send(ticket_id=ticket_id)


@shared_task(name="support.ticket_auto_close")
def ticket_auto_close_task(ticket_id: int) -> bool:
    return ticket_auto_close(ticket_id=ticket_id)


@shared_task(name="support.ticket_overdue_alert")
def ticket_overdue_alert_task(ticket_id: int) -> bool:
    return ticket_overdue_alert(ticket_id=ticket_id)


@shared_task(name="support.tickets_sweep")
def tickets_sweep_task() -> int:
    due = tickets_due()
    for ticket_id in due.close_notices:
        ticket_close_notice_task.delay(ticket_id)
    for ticket_id in due.auto_closes:
        ticket_auto_close_task.delay(ticket_id)
    for ticket_id in due.overdue:
        ticket_overdue_alert_task.delay(ticket_id)
    return len(due.close_notices) + len(due.auto_closes) + len(due.overdue)


@shared_task(name="support.announcement_email")
def announcement_email_task(announcement_id: int) -> bool:
    """One batch of an announcement's emails; the next batch is its own task."""
    more = announcement_email_batch(announcement_id=announcement_id)
    if more:
        announcement_email_task.delay(announcement_id)
    return more


@shared_task(name="support.announcements_sweep")
def announcements_sweep_task() -> int:
    """Announcements published (their date reached) whose emails are not all queued."""
    due = announcements_due_for_email()
    for announcement_id in due:
        announcement_email_task.delay(announcement_id)
    return len(due)
