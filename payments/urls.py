"""`webhooks/<name>/` (named `webhook-<name>`) for every registered gateway."""

from payments.webhooks import webhook_urls

urlpatterns = webhook_urls()
