"""Models of the credits app: the dual wallet: the local account-credit ledger and VirtFusion
token purchases.
"""
