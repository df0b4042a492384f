from django import template
from django.utils.safestring import SafeString, mark_safe

from support.rendering import markdown_html

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """A message body as safe HTML (support/rendering.py cleans it)."""
    return mark_safe(markdown_html(text))  # noqa: S308 (cleaned by nh3)
