"""The audit actions the support desk declares: the `ticket.*` namespace."""

from billing_portal.common.audit import AuditActions


class SupportAudit(AuditActions):
    TICKET_OPENED = "ticket.opened", "Support ticket opened"
    TICKET_REPLIED = "ticket.replied", "Support ticket replied to"
    TICKET_NOTE_ADDED = "ticket.note_added", "Internal note added to a ticket"
    TICKET_CLOSED = "ticket.closed", "Support ticket closed"
    TICKET_REOPENED = "ticket.reopened", "Support ticket reopened"
    TICKET_AUTO_CLOSED = "ticket.auto_closed", "Support ticket closed for no answer"
    TICKET_CLOSE_NOTICE_SENT = "ticket.close_notice_sent", "Ticket auto-close notice sent"
    TICKET_OVERDUE_ALERTED = "ticket.overdue_alerted", "Staff told of an overdue ticket"
    TICKET_STATUS_CHANGED = "ticket.status_changed", "Support ticket status changed"
    TICKET_ASSIGNED = "ticket.assigned", "Support ticket assigned"
    TICKET_MOVED = "ticket.moved", "Support ticket moved to another department"
    TICKET_PRIORITY_CHANGED = "ticket.priority_changed", "Support ticket priority changed"
    TICKET_MERGED = "ticket.merged", "Support ticket merged into another"
    TICKET_EMAIL_REFUSED = "ticket.email_refused", "Inbound ticket email refused"
    ANNOUNCEMENT_EMAIL_STARTED = "announcement.email_started", "Announcement email started"
    ANNOUNCEMENT_EMAILED = "announcement.emailed", "Announcement emailed to customers"
    ANNOUNCEMENT_UNSUBSCRIBED = "announcement.unsubscribed", "Unsubscribed from announcements"
    ANNOUNCEMENT_RESUBSCRIBED = "announcement.resubscribed", "Subscribed to announcements again"
