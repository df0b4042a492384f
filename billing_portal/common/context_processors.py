"""Template context shared by every client-area page."""

from django.conf import settings
from django.http import HttpRequest

# (label, URL name, namespace that marks the item active)
NAVIGATION = (
    ("Dashboard", "dashboard", ""),
    ("Services", "provisioning:service_list", "provisioning"),
    ("Invoices", "invoices:invoice_list", "invoices"),
    ("Billing & credits", "credits:overview", "credits"),
    ("DNS", "dns:zone_list", "dns"),
    ("Support", "support:ticket_list", "support"),
    ("Account", "accounts:profile", "accounts"),
)


def portal(request: HttpRequest) -> dict:
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match else None
    url_name = match.url_name if match else None
    items = [
        {
            "label": label,
            "url_name": name,
            "active": (namespace == ns) if ns else (url_name == name and not namespace),
        }
        for label, name, ns in NAVIGATION
    ]
    return {"portal_name": settings.PORTAL_NAME, "navigation": items}
