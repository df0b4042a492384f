"""JSON API of the credits app: one APIView per operation, mounted under /api/v1/."""
