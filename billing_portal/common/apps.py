from django.apps import AppConfig
from django.core import checks

from billing_portal.common.audit_registry import audit_action_check, audit_actions


class CommonConfig(AppConfig):
    name = "billing_portal.common"
    label = "common"
    verbose_name = "Common"

    def ready(self) -> None:
        # Every app's `audit.py`, found as the admin finds `admin.py` (nothing to register).
        audit_actions.discover()
        checks.register(audit_action_check, "audit")
