"""Gateways (Stripe, PayPal, manual), payments, refunds, webhooks and saved payment methods."""
