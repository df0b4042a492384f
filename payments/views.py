"""Client-area pages of the payments app (payment pages are reached from invoices)."""
