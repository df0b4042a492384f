"""Models of the payments app: gateways (Stripe, PayPal, manual), payments, refunds, webhooks
and saved payment methods.
"""
