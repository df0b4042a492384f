"""The customer API's URLs under /api/v1/ (namespace `api`)."""

from django.urls import path

from billing.api import views

urlpatterns = [
    path("services/", views.ServiceListApi.as_view(), name="service_list"),
    path("services/<int:pk>/", views.ServiceDetailApi.as_view(), name="service_detail"),
    path("invoices/", views.InvoiceListApi.as_view(), name="invoice_list"),
    path("invoices/<int:pk>/", views.InvoiceDetailApi.as_view(), name="invoice_detail"),
    path(
        "invoices/<int:pk>/pay-with-credit/",
        views.InvoicePayWithCreditApi.as_view(),
        name="invoice_pay_with_credit",
    ),
    path("balance/", views.BalanceApi.as_view(), name="balance"),
]
