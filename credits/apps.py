from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits"

    def ready(self) -> None:
        from credits.services import credit_auto_apply
        from invoices.hooks import on_invoice_issued

        on_invoice_issued(credit_auto_apply)
