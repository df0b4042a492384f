"""Staff screens of the dns app."""
