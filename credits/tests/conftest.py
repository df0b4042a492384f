"""Fixtures shared by the credits tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache

VF = "https://cp.example.test/api/v1"


@pytest.fixture
def virtfusion(settings, staff_alerts):
    """VirtFusion configured (its API at `VF`, mocked by each test), staff alerts to
    ops@example.com, and no cached token balance before or after."""
    settings.VIRTFUSION_URL = "https://cp.example.test"
    settings.VIRTFUSION_API_TOKEN = "vf-token"
    cache.clear()
    yield settings
    cache.clear()
