"""Panel adapters: network I/O only, one module per panel."""
