"""What the billing app records, one module per flow; every model is re-exported here."""

from billing.models.changes import ServiceChange
from billing.models.purchases import RefundShortfall, TokenPurchase
from billing.models.run import BillingRun, BillingRunChunk

__all__ = ["BillingRun", "BillingRunChunk", "RefundShortfall", "ServiceChange", "TokenPurchase"]
