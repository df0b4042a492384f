from django.apps import AppConfig


class DnsConfig(AppConfig):
    """Customer DNS. The package is `dnszones` because `dns` is dnspython's; the app label
    stays "dns" (tables, URLs and templates are named after it)."""

    name = "dnszones"
    label = "dns"
    verbose_name = "DNS"
