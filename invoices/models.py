"""Models of the invoices app: catalogue (products, plans, prices, coupons, tax rates), orders,
invoices, credit notes and the daily billing run.
"""
