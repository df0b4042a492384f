"""The catalogue: product groups, products, prices per billing cycle, configurable options,
coupons and tax rates, with the client-area catalogue and order pages.
"""
