from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from payments.services import subscriptions_cancel_for_service
        from provisioning.hooks import on_service_ended

        on_service_ended(subscriptions_cancel_for_service)
