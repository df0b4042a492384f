"""Staff screens of the credits app."""
