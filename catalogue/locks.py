"""Row locks of the catalogue's tables, in the portal's lock order
(billing_portal/common/locks.py)."""

from __future__ import annotations

from billing_portal.common.locks import LockKind, lock_first, lock_one
from catalogue.models import Coupon, Order, Product


def product_lock(product_id: int) -> Product:
    """The product row, locked: concurrent orders of the last items in stock queue on it."""
    return lock_one(Product.objects.all(), kind=LockKind.PRODUCT, pk=product_id)


def coupon_lock(code: str) -> Coupon | None:
    """The coupon with this code, locked (None when there is none): concurrent orders
    redeeming its last uses queue on it."""
    return lock_first(Coupon.objects.all(), kind=LockKind.COUPON, code=code)


def order_lock(order_id: int, *, related: tuple[str, ...] = ()) -> Order:
    """The order row, locked (rows read along by `related` are not)."""
    return lock_one(Order.objects.select_related(*related), kind=LockKind.ORDER, pk=order_id)
