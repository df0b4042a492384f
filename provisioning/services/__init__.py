"""Writes of the provisioning app, one module per subject; import them from here."""

from provisioning.services.lifecycle import (
    service_assert_transition,
    service_cancel,
    service_create_pending,
    service_has_suspendable_debt,
    service_period_end,
    service_provision_failed,
    service_provision_retry,
    service_provisioned,
    service_suspend,
    service_terminate,
    service_unsuspend,
    services_on_invoice_paid,
)
from provisioning.services.operations import (
    account_spec,
    operation_enqueue,
    operation_mark_resolved,
    operation_retry,
    operation_run,
    operations_sweep,
)
from provisioning.services.servers import (
    secrets_rotate,
    server_check,
    server_panel,
    server_place,
    server_place_manually,
    server_release,
)

__all__ = [
    "account_spec",
    "operation_enqueue",
    "operation_mark_resolved",
    "operation_retry",
    "operation_run",
    "operations_sweep",
    "secrets_rotate",
    "server_check",
    "server_panel",
    "server_place",
    "server_place_manually",
    "server_release",
    "service_assert_transition",
    "service_cancel",
    "service_create_pending",
    "service_has_suspendable_debt",
    "service_period_end",
    "service_provision_failed",
    "service_provision_retry",
    "service_provisioned",
    "service_suspend",
    "service_terminate",
    "service_unsuspend",
    "services_on_invoice_paid",
]
