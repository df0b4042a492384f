"""The dual wallet: the local account-credit ledger and VirtFusion token purchases."""
