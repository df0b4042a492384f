from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits"

    def ready(self) -> None:
        from credits.services import credit_auto_apply, credits_on_invoice_paid
        from invoices.hooks import on_invoice_issued, on_invoice_paid

        on_invoice_issued(credit_auto_apply)
        on_invoice_paid(credits_on_invoice_paid)
