from django.urls import path

from payments import views

app_name = "payments"

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
    path(
        "stripe/intent-return/", views.StripeIntentReturnView.as_view(), name="stripe_intent_return"
    ),
    path(
        "services/<int:service_id>/paypal-subscription/",
        views.SubscriptionBeginView.as_view(),
        name="subscription_begin",
    ),
    path(
        "paypal/subscription/return/",
        views.SubscriptionReturnView.as_view(),
        name="subscription_return",
    ),
    path(
        "subscriptions/<int:pk>/cancel/",
        views.SubscriptionCancelView.as_view(),
        name="subscription_cancel",
    ),
    path("cards/", views.CardListView.as_view(), name="card_list"),
    path("cards/add/", views.CardAddView.as_view(), name="card_add"),
    path("cards/return/", views.CardReturnView.as_view(), name="card_return"),
    path(
        "cards/<int:pk>/remove/", views.CardActionView.as_view(action="remove"), name="card_remove"
    ),
    path(
        "cards/<int:pk>/default/",
        views.CardActionView.as_view(action="default"),
        name="card_default",
    ),
    path(
        "stripe/return/",
        views.CheckoutReturnView.as_view(gateway="stripe", reference_parameter="session_id"),
        name="stripe_return",
    ),
    path(
        "paypal/return/",
        views.CheckoutReturnView.as_view(gateway="paypal", reference_parameter="token"),
        name="paypal_return",
    ),
    path(
        "attempts/<int:pk>/cancelled/",
        views.AttemptCancelledView.as_view(),
        name="attempt_cancelled",
    ),
]
