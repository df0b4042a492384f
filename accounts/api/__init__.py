"""JSON API of the accounts app."""
