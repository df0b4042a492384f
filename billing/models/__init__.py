"""What the billing app records, one module per flow; every model is re-exported here."""

from billing.models.changes import ServiceChange
from billing.models.purchases import RefundShortfall, TokenPurchase
from billing.models.run import BillingRun

__all__ = ["BillingRun", "RefundShortfall", "ServiceChange", "TokenPurchase"]
