"""Fixtures shared by the billing tests (token purchases: VirtFusion)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

VF = "https://cp.example.test/api/v1"


@pytest.fixture
def virtfusion(settings):
    """VirtFusion configured (its API at `VF`, mocked by each test), staff alerts to
    ops@example.com, and no cached token balance before or after."""
    settings.VIRTFUSION_URL = "https://cp.example.test"
    settings.VIRTFUSION_API_TOKEN = "vf-token"
    settings.ADMINS = [("Staff", "ops@example.com")]
    cache.clear()
    yield settings
    cache.clear()
