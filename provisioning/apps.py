from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        from invoices.hooks import on_invoice_paid
        from provisioning.services import plan_changes_on_invoice_paid, services_on_invoice_paid

        on_invoice_paid(services_on_invoice_paid)
        on_invoice_paid(plan_changes_on_invoice_paid)
