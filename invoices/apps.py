from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices"

    def ready(self) -> None:
        from invoices.hooks import on_invoice_paid
        from invoices.services.orders import order_mark_completed_for

        on_invoice_paid(order_mark_completed_for)
