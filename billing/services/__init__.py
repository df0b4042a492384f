"""Writes of the billing app: the flows that span apps; import them from here."""

from billing.services.run import billing_run

__all__ = ["billing_run"]
