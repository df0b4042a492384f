"""URL modules of the client-area pages billing owns (billing/views/), each keeping the
namespace, names and paths it had in its old app; billing_portal/urls.py mounts them."""
