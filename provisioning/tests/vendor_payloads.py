"""The panels' answers the tests use, stored as files under fixtures/<vendor>/<name>.json
(the vendor's module name: pterodactyl, nextpanel, wordpress, ...)."""

from __future__ import annotations

from typing import Any

from billing_portal.common.testing import load_fixture


def load(vendor: str, name: str) -> Any:
    return load_fixture(__file__, vendor, name)
