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
    path("stripe/return/", views.StripeReturnView.as_view(), name="stripe_return"),
    path(
        "attempts/<int:pk>/cancelled/",
        views.AttemptCancelledView.as_view(),
        name="attempt_cancelled",
    ),
]
