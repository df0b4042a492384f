"""Staff screens of the invoices app."""
