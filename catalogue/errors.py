"""Errors of the catalogue's price look-ups (messages are shown to the customer)."""

from billing_portal.common.errors import DomainError


class CatalogueError(DomainError):
    code = "catalogue_error"


class PriceUnavailable(CatalogueError):
    code = "price_unavailable"
    default_message = "This product is not sold on that billing cycle in your currency."


class InvalidOptionQuantity(CatalogueError):
    code = "invalid_option_quantity"
