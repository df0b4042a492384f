"""JSON API of the provisioning app: one APIView per operation, mounted under /api/v1/."""
