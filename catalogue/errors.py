"""Errors of the catalogue's price look-ups, coupons and orders (messages are shown to the
customer)."""

from billing_portal.common.errors import DomainError


class CatalogueError(DomainError):
    code = "catalogue_error"


class PriceUnavailable(CatalogueError):
    code = "price_unavailable"
    default_message = "This product is not sold on that billing cycle in your currency."


class InvalidOptionQuantity(CatalogueError):
    code = "invalid_option_quantity"


class CouponInvalid(CatalogueError):
    code = "coupon_invalid"


class OutOfStock(CatalogueError):
    code = "out_of_stock"
    default_message = "Sorry, this product is sold out."


class AlreadyHeld(CatalogueError):
    """The customer already holds the one live service of this kind they may have."""

    code = "already_held"


class MissingOrderField(CatalogueError):
    code = "missing_order_field"


class InvalidOrderField(CatalogueError):
    code = "invalid_order_field"


class OrderNotCancellable(CatalogueError):
    code = "order_not_cancellable"
    default_message = "Only unpaid orders can be cancelled."
