"""Catalogue reads: the client catalogue, one orderable product, the price of a product and
its options on a billing cycle in a currency (orders, renewals and plan changes all price
through these), whether a coupon may be used, a customer's order, and a customer's client
group discounts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from djmoney.money import Money

from accounts.models import Customer
from catalogue.errors import CouponInvalid, InvalidOptionQuantity, PriceUnavailable
from catalogue.models import (
    ClientGroupDiscount,
    ConfigurableOption,
    ConfigurableOptionPrice,
    Coupon,
    CouponRedemption,
    CustomerGroup,
    Order,
    Product,
    ProductGroup,
    ProductPrice,
)


@dataclass(frozen=True)
class ChosenOption:
    """An option with the quantity the customer chose and its price on the cycle."""

    option: ConfigurableOption
    quantity: int
    unit_price: Money
    setup_fee: Money


def catalogue_for_currency(*, currency: str) -> QuerySet[ProductGroup]:
    """Visible groups with their visible products and those products' prices in `currency`."""
    prices = ProductPrice.objects.filter(currency=currency).order_by("price")
    products = Product.objects.filter(is_visible=True).prefetch_related(
        Prefetch("prices", queryset=prices)
    )
    return (
        ProductGroup.objects.filter(is_visible=True, products__is_visible=True)
        .distinct()
        .prefetch_related(Prefetch("products", queryset=products))
    )


def products_of_module(*, module: str) -> QuerySet[Product]:
    """Sold products of a provisioning module with their prices, e.g. the DNS plans (sold on
    the DNS page: their group is hidden from the catalogue)."""
    return (
        Product.objects.filter(module=module, is_visible=True)
        .prefetch_related("prices")
        .order_by("sort_order", "name")
    )


def product_get_orderable(*, slug: str) -> Product:
    """A visible product of a visible group, with its prices and options; DoesNotExist
    otherwise. Products of hidden groups are sold by their own pages (the DNS plans, whose
    purchase checks the customer's zones), never through the generic order form."""
    return Product.objects.prefetch_related("prices", "options__prices").get(
        slug=slug, is_visible=True, group__is_visible=True
    )


def product_price_find(*, product: Product, cycle: str, currency: str) -> ProductPrice | None:
    """The product's price on `cycle` in `currency`, if it is sold so."""
    return ProductPrice.objects.filter(product=product, cycle=cycle, currency=currency).first()


def product_price_get(*, product: Product, cycle: str, currency: str) -> ProductPrice:
    """The product's price on `cycle` in `currency`; PriceUnavailable when it has none."""
    price = product_price_find(product=product, cycle=cycle, currency=currency)
    if price is None:
        raise PriceUnavailable
    return price


def product_alternatives(*, product: Product, cycle: str, currency: str) -> QuerySet[Product]:
    """Visible products of the same group and module as `product` (itself excluded) that are
    sold on `cycle` in `currency`: the plans a service of `product` could move to."""
    priced = ProductPrice.objects.filter(cycle=cycle, currency=currency)
    return (
        Product.objects.filter(
            group=product.group_id, module=product.module, is_visible=True, prices__in=priced
        )
        .exclude(pk=product.pk)
        .distinct()
        .order_by("sort_order", "name")
    )


def options_chosen(
    *, product: Product, cycle: str, currency: str, quantities: dict[int, int]
) -> list[ChosenOption]:
    """Each option of `product` with a quantity (`quantities`: option id -> quantity, the
    option's minimum when left out), priced on `cycle` in `currency`. InvalidOptionQuantity
    for a quantity out of range or an option of another product; PriceUnavailable for an
    option not sold on the cycle."""
    chosen = []
    options = product.options.prefetch_related("prices")
    for option in options:
        quantity = quantities.get(option.pk, option.min_quantity)
        if not option.min_quantity <= quantity <= option.max_quantity:
            raise InvalidOptionQuantity(
                f"{option.name}: choose between {option.min_quantity} and {option.max_quantity}."
            )
        if not quantity:
            continue
        price = next(
            (p for p in option.prices.all() if p.cycle == cycle and p.currency == currency),
            None,
        )
        if price is None:
            raise PriceUnavailable(f"{option.name} is not sold on this billing cycle.")
        chosen.append(ChosenOption(option, quantity, price.unit_price, price.setup_fee))
    unknown = set(quantities) - {option.pk for option in options}
    if unknown:
        raise InvalidOptionQuantity("An option you chose does not belong to this product.")
    return chosen


def recurring_amount_of(price: ProductPrice, options: list[ChosenOption]) -> Money:
    """The list price per cycle of the product with these options (before any discount)."""
    return sum((chosen.unit_price * chosen.quantity for chosen in options), price.price)


def recurring_price(
    *, product: Product, cycle: str, currency: str, option_quantities: dict[int, int]
) -> tuple[Money, list[tuple[ConfigurableOption, int]]]:
    """The recurring amount of `product` with these option quantities on `cycle`, priced as
    an order would be (plan changes use it), and the options with a quantity."""
    options = options_chosen(
        product=product, cycle=cycle, currency=currency, quantities=option_quantities
    )
    amount = recurring_amount_of(
        product_price_get(product=product, cycle=cycle, currency=currency), options
    )
    return amount, [(chosen.option, chosen.quantity) for chosen in options]


# --- Coupons and orders -------------------------------------------------------------------


def coupon_check(
    *, code: str, customer: Customer, product: Product, currency: str, at: datetime
) -> Coupon:
    """The coupon for `code` if this customer may use it on this product now; CouponInvalid
    with the reason otherwise. Limits are counted again under lock when the order is placed."""
    coupon = Coupon.objects.filter(code=code.strip().upper(), is_active=True).first()
    if coupon is None:
        raise CouponInvalid(f"The coupon code {code.strip()!r} is not valid.")
    if coupon.starts_at and at < coupon.starts_at:
        raise CouponInvalid("This coupon is not valid yet.")
    if coupon.expires_at and at >= coupon.expires_at:
        raise CouponInvalid("This coupon has expired.")
    if coupon.products.exists() and not coupon.products.filter(pk=product.pk).exists():
        raise CouponInvalid(f"This coupon cannot be used for {product.name}.")
    if coupon.kind == Coupon.Kind.FIXED and coupon.currency != currency:
        raise CouponInvalid(f"This coupon can only be used for orders in {coupon.currency}.")
    used = CouponRedemption.objects.filter(coupon=coupon).exclude(
        order__status=Order.Status.CANCELLED
    )
    if coupon.max_uses is not None and used.count() >= coupon.max_uses:
        raise CouponInvalid("This coupon has been used up.")
    if (
        coupon.max_uses_per_customer is not None
        and used.filter(customer=customer).count() >= coupon.max_uses_per_customer
    ):
        raise CouponInvalid("You have already used this coupon.")
    return coupon


def order_get_for_customer(*, customer: Customer, order_id: int) -> Order:
    return Order.objects.get(customer=customer, pk=order_id)


def order_by_idempotency_key(*, customer: Customer, idempotency_key: str) -> Order | None:
    """The customer's order placed by the request with this key, if there was one."""
    return Order.objects.filter(customer=customer, idempotency_key=idempotency_key).first()


def catalogue_products_for_currency(*, currency: str) -> QuerySet[Product]:
    """What the catalogue sells in `currency`, for the API: the visible products of visible
    groups in the catalogue's order, with their prices and their options' in `currency`
    (a constant number of queries)."""
    prices = ProductPrice.objects.filter(currency=currency).order_by("cycle")
    option_prices = ConfigurableOptionPrice.objects.filter(currency=currency).order_by("cycle")
    options = ConfigurableOption.objects.prefetch_related(
        Prefetch("prices", queryset=option_prices)
    ).order_by("sort_order", "name", "pk")
    return (
        Product.objects.filter(is_visible=True, group__is_visible=True)
        .select_related("group")
        .prefetch_related(
            Prefetch("prices", queryset=prices), Prefetch("options", queryset=options)
        )
        .order_by("group__sort_order", "group__name", "sort_order", "name", "pk")
    )


# --- Client groups ------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupDiscounts:
    """A customer's client group and its discounts by product group id (None: the discount
    for everything)."""

    group_name: str
    by_product_group: dict[int | None, ClientGroupDiscount]

    def for_product_group(self, product_group_id: int | None) -> ClientGroupDiscount | None:
        """The product group's own discount, else the group's discount for everything."""
        own = self.by_product_group.get(product_group_id) if product_group_id else None
        return own or self.by_product_group.get(None)


def client_group_discounts_of(*, customer_ids: Iterable[int]) -> dict[int, GroupDiscounts]:
    """The client group discounts of these customers (those in a group), in two queries
    whatever their number (the billing run reads a chunk's at once)."""
    memberships = (
        CustomerGroup.objects.filter(customer_id__in=set(customer_ids))
        .select_related("group")
        .prefetch_related("group__discounts")
    )
    return {
        member.customer_id: GroupDiscounts(
            group_name=member.group.name,
            by_product_group={d.product_group_id: d for d in member.group.discounts.all()},
        )
        for member in memberships
    }


def client_group_discounts_for(*, customer: Customer) -> GroupDiscounts | None:
    """The customer's client group discounts now; None when the customer is in no group."""
    return client_group_discounts_of(customer_ids=[customer.pk]).get(customer.pk)
