"""Staff screens of the billing app: its own records (the billing runs) and the screens of
lower apps' models whose actions run billing's flows (issuing invoices, recording payments).
Admin URLs go by the model's app label, so those keep theirs."""

from billing.admin import (  # noqa: F401 (each registers its admins)
    cancellation,
    customers,
    invoices,
    payments,
    purchases,
    run,
)
