"""Models of the dns app: dNS plans and subscriptions, zones, records and DNS server adapters."""
