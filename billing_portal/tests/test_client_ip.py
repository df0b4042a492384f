"""Which address a request came from, behind 0, 1 or 2 trusted reverse proxies.

REMOTE_ADDR is the nearest proxy (or the client when none is trusted); each trusted proxy
appends the address it received the request from to X-Forwarded-For, so everything left of
what our outermost proxy wrote is whatever the client chose to send.
"""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from billing_portal.common.request import client_ip

CLIENT = "203.0.113.7"
EDGE = "10.0.0.1"  # the outermost proxy, as the inner one saw it
INNER = "10.0.0.2"  # the proxy nearest to the portal (REMOTE_ADDR)
SPOOFED = "198.51.100.66"


def _request(remote_addr: str = INNER, forwarded_for: str | None = None):
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("proxies", "remote_addr", "forwarded_for", "expected"),
    [
        # None trusted: the header is the client's own words, REMOTE_ADDR is the client.
        (0, CLIENT, None, CLIENT),
        (0, CLIENT, SPOOFED, CLIENT),
        (0, "", None, None),
        # One proxy: it appended the client; anything before that was sent by the client.
        (1, INNER, CLIENT, CLIENT),
        (1, INNER, f"{SPOOFED}, {CLIENT}", CLIENT),
        (1, INNER, f"{SPOOFED},{SPOOFED}, {CLIENT}", CLIENT),
        (1, INNER, f"unknown, {CLIENT}", CLIENT),
        # Two proxies: the edge appended the client, the inner proxy appended the edge.
        (2, INNER, f"{CLIENT}, {EDGE}", CLIENT),
        (2, INNER, f"{SPOOFED}, {CLIENT}, {EDGE}", CLIENT),
        (2, INNER, f"{SPOOFED}, {SPOOFED}, {CLIENT}, {EDGE}", CLIENT),
        # IPv6 clients.
        (1, INNER, "2001:db8::1", "2001:db8::1"),
        (2, INNER, f"{SPOOFED}, 2001:db8::1, {EDGE}", "2001:db8::1"),
    ],
)
def test_client_is_the_nth_address_from_the_right(
    settings, proxies, remote_addr, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_request(remote_addr, forwarded_for)) == expected


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        # No header at all: the request did not come through the proxies (a health probe,
        # a local call); the peer is all we know.
        (1, None, INNER),
        (2, None, INNER),
        (1, "", INNER),
        # Fewer entries than proxies: TRUSTED_PROXY_COUNT is higher than the real chain;
        # every entry present was written by a proxy, and the left-most is the furthest hop.
        (2, CLIENT, CLIENT),
        (3, f"{CLIENT}, {EDGE}", CLIENT),
    ],
)
def test_a_short_header_falls_back_to_the_furthest_known_hop(
    settings, proxies, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_request(INNER, forwarded_for)) == expected


@pytest.mark.parametrize("garbage", ["unknown", "not-an-ip", "203.0.113.7:443", "<script>"])
def test_an_entry_that_is_not_an_address_is_no_address(settings, garbage):
    """Only a misconfigured proxy writes these where the client should be; the address is
    unknown rather than a string the database and the throttles would choke on."""
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request(INNER, f"{SPOOFED}, {garbage}")) is None


def test_rotating_spoofed_entries_give_the_same_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    seen = {client_ip(_request(INNER, f"192.0.2.{n}, {CLIENT}")) for n in range(1, 30)}
    assert seen == {CLIENT}
