"""Message bodies: Markdown (CommonMark and tables) rendered to HTML with raw HTML off, then
cleaned by nh3 (an allow-list of tags and attributes, links to http, https and mailto only,
opened without the referrer), so whatever a customer or an email sends is shown as text."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")
TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
# Images are left out: a picture from elsewhere would tell its server who read the ticket.
ATTRIBUTES = {"a": {"href", "title"}, "th": {"style"}, "td": {"style"}}


def markdown_html(text: str) -> str:
    """Safe HTML of a message body (to mark safe in a template)."""
    return nh3.clean(
        _markdown.render(text),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
