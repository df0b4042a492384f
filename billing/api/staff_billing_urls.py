"""The staff money API's URLs, under /api/v1/staff/ (namespace `api`)."""

from django.urls import path

from billing.api import staff_billing as views

urlpatterns = [
    path("customers/", views.StaffCustomerListApi.as_view(), name="staff_customer_list"),
    path(
        "customers/<int:pk>/",
        views.StaffCustomerDetailApi.as_view(),
        name="staff_customer_detail",
    ),
    path(
        "customers/<int:pk>/credits/",
        views.StaffCreditChangeApi.as_view(),
        name="staff_customer_credit_change",
    ),
    path(
        "customers/<int:pk>/ledger/",
        views.StaffLedgerApi.as_view(),
        name="staff_customer_ledger",
    ),
    path("invoices/", views.StaffInvoiceListApi.as_view(), name="staff_invoice_list"),
    path("invoices/<int:pk>/", views.StaffInvoiceDetailApi.as_view(), name="staff_invoice_detail"),
    path(
        "invoices/<int:pk>/issue/",
        views.StaffInvoiceIssueApi.as_view(),
        name="staff_invoice_issue",
    ),
    path(
        "invoices/<int:pk>/cancel/",
        views.StaffInvoiceCancelApi.as_view(),
        name="staff_invoice_cancel",
    ),
    path(
        "invoices/<int:pk>/credit-notes/",
        views.StaffCreditNoteApi.as_view(),
        name="staff_invoice_credit_note",
    ),
    path("payments/", views.StaffPaymentListApi.as_view(), name="staff_payment_list"),
    path("payments/<int:pk>/", views.StaffPaymentDetailApi.as_view(), name="staff_payment_detail"),
    path("payments/<int:pk>/refund/", views.StaffRefundApi.as_view(), name="staff_payment_refund"),
    path("tokens/", views.StaffTokenListApi.as_view(), name="staff_token_list"),
    path("tokens/<int:pk>/cancel/", views.StaffTokenCancelApi.as_view(), name="staff_token_cancel"),
    path("operations/", views.StaffOperationListApi.as_view(), name="staff_operation_list"),
    path(
        "operations/<int:pk>/retry/",
        views.StaffOperationRetryApi.as_view(),
        name="staff_operation_retry",
    ),
    path("services/<int:pk>/usage/", views.StaffUsageApi.as_view(), name="staff_service_usage"),
]
