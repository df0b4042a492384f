"""JSON API of the dns app: one APIView per operation, mounted under /api/v1/."""
