"""The customer API's payment, saved-card, subscription and credit URLs under /api/v1/
(namespace `api`; views: billing/api/payments_api.py)."""

from django.urls import path

from billing.api import payments_api as views

urlpatterns = [
    path(
        "invoices/<int:pk>/payments/",
        views.InvoicePaymentStartApi.as_view(),
        name="invoice_payment_start",
    ),
    path("payments/", views.PaymentListApi.as_view(), name="payment_list"),
    path("payments/<int:pk>/", views.PaymentDetailApi.as_view(), name="payment_detail"),
    path(
        "payments/<int:checkout_id>/capture/",
        views.CheckoutCaptureApi.as_view(),
        name="payment_capture",
    ),
    path("payment-methods/", views.SavedMethodListApi.as_view(), name="payment_method_list"),
    path("payment-methods/setup/", views.CardSetupApi.as_view(), name="payment_method_setup"),
    path(
        "payment-methods/setup/<int:setup_id>/complete/",
        views.CardSetupCompleteApi.as_view(),
        name="payment_method_setup_complete",
    ),
    path(
        "payment-methods/<int:pk>/",
        views.SavedMethodDeleteApi.as_view(),
        name="payment_method_delete",
    ),
    path(
        "payment-methods/<int:pk>/default/",
        views.SavedMethodDefaultApi.as_view(),
        name="payment_method_set_default",
    ),
    path(
        "services/<int:pk>/subscription/",
        views.SubscriptionCreateApi.as_view(),
        name="service_subscription_create",
    ),
    path("subscriptions/", views.SubscriptionListApi.as_view(), name="subscription_list"),
    path(
        "subscriptions/<int:pk>/cancel/",
        views.SubscriptionCancelApi.as_view(),
        name="subscription_cancel",
    ),
    path("billing/balance/", views.BillingBalanceApi.as_view(), name="billing_balance"),
    path("billing/credits/purchase/", views.CreditPurchaseApi.as_view(), name="credit_purchase"),
    path(
        "billing/credits/purchases/<int:checkout_id>/capture/",
        views.CreditPurchaseCaptureApi.as_view(),
        name="credit_purchase_capture",
    ),
    path("billing/ledger/", views.LedgerApi.as_view(), name="billing_ledger"),
]
