from django.urls import path

from billing.views import credits as views

app_name = "credits"

urlpatterns = [
    path("", views.BillingOverviewView.as_view(), name="overview"),
    path("buy-credit/", views.BuyCreditView.as_view(), name="buy_credit"),
    path("buy-tokens/", views.BuyTokensView.as_view(), name="buy_tokens"),
    path("receipts/<int:pk>/", views.ReceiptView.as_view(), name="receipt"),
    path("transactions.csv", views.TransactionsCsvView.as_view(), name="transactions_csv"),
    path("pay-invoice/<int:pk>/", views.PayInvoiceWithCreditView.as_view(), name="pay_invoice"),
]
