"""The JSON API (`/api/v1/`): thin views over the selectors and services the client area
uses. It sits in billing, the top layer, because its views call every app below; the shared
parts are the kernel's (billing_portal/common/api.py) and accounts' (keys, scopes,
idempotency: accounts/api/)."""
