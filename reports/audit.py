"""The audit actions reports declares: the `report_export.*` namespace. Reading a report
writes nothing; building and handing out an export of accounting data is recorded."""

from billing_portal.common.audit import AuditActions


class ReportAudit(AuditActions):
    EXPORT_REQUESTED = "report_export.requested", "Accounting export requested"
    EXPORT_READY = "report_export.ready", "Accounting export built"
    EXPORT_FAILED = "report_export.failed", "Accounting export could not be built"
    EXPORT_DOWNLOADED = "report_export.downloaded", "Accounting export downloaded"
