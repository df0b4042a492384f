"""Staff screens of the payments app."""
