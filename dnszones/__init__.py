"""DNS plans and subscriptions, zones, records and DNS server adapters."""
