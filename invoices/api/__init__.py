"""JSON API of the invoices app: one APIView per operation, mounted under /api/v1/."""
