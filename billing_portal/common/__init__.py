"""Small shared kernel: money helpers, base errors, request metadata, email, health, tests.

Nothing here knows a business rule; anything with rules belongs to a domain app.
"""
