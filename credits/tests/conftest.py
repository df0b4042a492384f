"""Fixtures shared by the credits tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache

VF = "https://cp.example.test/api/v1"


@pytest.fixture
def virtfusion(virtfusion_settings, staff_alerts):
    """VirtFusion configured (its API at `VF`, mocked by each test), staff alerts to
    ops@example.com, and no cached token balance before or after."""
    cache.clear()
    yield virtfusion_settings
    cache.clear()
