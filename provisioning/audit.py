"""The audit actions provisioning declares: the `service.*` namespace."""

from billing_portal.common.audit import AuditActions


class ProvisioningAudit(AuditActions):
    SERVICE_PROVISIONED = "service.provisioned", "Service provisioned"
    SERVICE_PROVISION_FAILED = "service.provision_failed", "Service provisioning failed"
    SERVICE_SUSPENDED = "service.suspended", "Service suspended"
    SERVICE_UNSUSPENDED = "service.unsuspended", "Service unsuspended"
    SERVICE_TERMINATED = "service.terminated", "Service terminated"
    SERVICE_RENEWED = "service.renewed", "Service renewed"
    SERVICE_CANCELLED = "service.cancelled", "Service cancelled"
    SERVICE_PLAN_CHANGED = "service.plan_changed", "Service plan changed"
    SERVICE_ENDING = "service.ending", "Service set to end at the end of its period"
    SERVICE_ACTION_REQUESTED = "service.action_requested", "Service action requested by customer"
    SERVICE_ACTION_SUCCEEDED = "service.action_succeeded", "Service action done"
    SERVICE_ACTION_FAILED = "service.action_failed", "Service action failed"
    CANCELLATION_REQUESTED = "service.cancellation_requested", "Service cancellation requested"
    CANCELLATION_WITHDRAWN = "service.cancellation_withdrawn", "Service cancellation withdrawn"
    CANCELLATION_COMPLETED = "service.cancellation_completed", "Service cancellation completed"
    SERVICE_SECRET_CHANGED = "service.secret_changed", "Service secret replaced"
    SERVICE_AUTO_BACKUPS_CHANGED = (
        "service.auto_backups_changed",
        "Automatic backups turned on or off by customer",
    )
    SERVICE_AUTO_BACKUP_FAILED = "service.auto_backup_failed", "Automatic backup failed"
    SERVICE_AUTO_BACKUP_RETRIED = "service.auto_backup_retried", "Automatic backup retried by staff"


class ServerAudit(AuditActions):
    """Staff adding, changing and removing panel servers (credential values never logged)."""

    SERVER_CREATED = "server.created", "Server added"
    SERVER_CHANGED = "server.changed", "Server changed"
    SERVER_DELETED = "server.deleted", "Server removed"
