"""Template filters shared by the portal's pages."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A length of time in words ("15 minutes", "1 hour, 30 minutes"), worded as Django words
    the time since a date; "" for none."""
    if not value:
        return ""
    now = timezone.now()
    return timesince(now, now + value)


@register.simple_tag
def portal_name() -> str:
    """The portal's name from settings, for pages rendered without context processors (the
    500 page)."""
    return settings.PORTAL_NAME


@register.simple_tag
def click_key() -> str:
    """A fresh one-time key for an action form: the same click submitted twice (a double
    click, a resent POST) is one action, and every form on a page gets its own."""
    return uuid.uuid4().hex
