"""The flows that span apps (DESIGN.md §1, the top layer): the billing run's orchestration
today. It calls each app's own services and selectors; no lower app imports it."""
