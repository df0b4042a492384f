"""JSON API of the payments app: one APIView per operation, mounted under /api/v1/."""
