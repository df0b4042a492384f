"""Errors raised by the support desk."""

from billing_portal.common.errors import DomainError


class SupportError(DomainError):
    code = "support_error"


class TicketClosed(SupportError):
    code = "ticket_closed"
    default_message = "This ticket is closed: reopen it to reply."


class InvalidTransition(SupportError):
    code = "ticket_invalid_transition"


class AttachmentRefused(SupportError):
    code = "attachment_refused"


class UnknownSupportKey(SupportError):
    code = "unknown_support_key"
    default_message = "That support key does not belong to an active support subscription of yours."


class InboundRefused(SupportError):
    """An inbound email that cannot be taken: no valid token, or from another address."""

    code = "inbound_refused"
