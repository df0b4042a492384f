"""Client-area payment pages. The pages a provider sends the customer back to are made per
gateway from the registry (`/payments/<name>/return/` and so on), so their paths and names
stay what the providers were given, and no provider is named here."""

from django.urls import URLPattern, path

from billing.views import payments as views
from payments.gateways import registry
from payments.gateways.base import HostedCheckout, OnSessionCharge, SavedCards, Subscriptions

app_name = "payments"


def _checkout_returns() -> list[URLPattern]:
    return [
        path(
            f"{name}/return/",
            views.CheckoutReturnView.as_view(
                gateway=name,
                reference_parameter=registry.adapter_offering(
                    name, HostedCheckout
                ).return_reference_parameter,
            ),
            name=f"{name}_return",
        )
        for name in registry.names_offering(HostedCheckout)
    ]


def _charge_returns() -> list[URLPattern]:
    return [
        path(
            f"{name}/intent-return/",
            views.ChargeReturnView.as_view(
                reference_parameter=registry.adapter_offering(
                    name, OnSessionCharge
                ).charge_reference_parameter
            ),
            name=f"{name}_intent_return",
        )
        for name in registry.names_offering(OnSessionCharge)
    ]


def _card_return() -> list[URLPattern]:
    """Cards are saved with one gateway (registry.gateway_with(SavedCards)): its return."""
    names = registry.names_offering(SavedCards)[:1]
    return [
        path(
            "cards/return/",
            views.CardReturnView.as_view(
                reference_parameter=registry.adapter_offering(
                    name, SavedCards
                ).setup_reference_parameter
            ),
            name="card_return",
        )
        for name in names
    ]


def _subscription_pages() -> list[URLPattern]:
    """Subscriptions are made with one gateway (registry.gateway_with(Subscriptions))."""
    names = registry.names_offering(Subscriptions)[:1]
    return [
        page
        for name in names
        for page in (
            path(
                f"services/<int:service_id>/{name}-subscription/",
                views.SubscriptionBeginView.as_view(),
                name="subscription_begin",
            ),
            path(
                f"{name}/subscription/return/",
                views.SubscriptionReturnView.as_view(),
                name="subscription_return",
            ),
        )
    ]


urlpatterns = [
    path("", views.PaymentListView.as_view(), name="payment_list"),
    path(
        "invoices/<int:pk>/pay/<slug:gateway>/",
        views.CheckoutBeginView.as_view(),
        name="checkout_begin",
    ),
    path(
        "invoices/<int:pk>/pay-with-card/<int:method_id>/",
        views.SavedCardPayView.as_view(),
        name="saved_card_pay",
    ),
    *_charge_returns(),
    *_subscription_pages(),
    path(
        "subscriptions/<int:pk>/cancel/",
        views.SubscriptionCancelView.as_view(),
        name="subscription_cancel",
    ),
    path("cards/", views.CardListView.as_view(), name="card_list"),
    path("cards/add/", views.CardAddView.as_view(), name="card_add"),
    *_card_return(),
    path(
        "cards/<int:pk>/remove/", views.CardActionView.as_view(action="remove"), name="card_remove"
    ),
    path(
        "cards/<int:pk>/default/",
        views.CardActionView.as_view(action="default"),
        name="card_default",
    ),
    *_checkout_returns(),
    path(
        "attempts/<int:pk>/cancelled/",
        views.AttemptCancelledView.as_view(),
        name="attempt_cancelled",
    ),
]
