"""Payment gateway adapters: network I/O and payload checking only, no ORM."""
