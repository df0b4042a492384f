from django.urls import path

from billing.views import invoices as views

app_name = "invoices"

urlpatterns = [
    path("", views.InvoiceListView.as_view(), name="invoice_list"),
    path("<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("<int:pk>/print/", views.InvoicePrintView.as_view(), name="invoice_print"),
    path("<int:pk>/pdf/", views.InvoicePdfView.as_view(), name="invoice_pdf"),
]
