"""Orders, invoices, credit notes, numbering, tax calculation and the daily billing run (the
catalogue they sell from is the `catalogue` app's).
"""
