from django.apps import AppConfig


class SupportConfig(AppConfig):
    """The support desk: tickets tied to customers' services and support subscriptions."""

    name = "support"
    verbose_name = "Support desk"
