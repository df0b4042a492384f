"""The suite runs with no way off this machine: pytest-socket (loopback only) for
connections, and the project's guard for datagrams and name lookups. Each attempt below is
stopped before a packet is sent."""

from __future__ import annotations

import socket

import dns.message
import dns.query
import dns.resolver
import pytest
import requests
from pytest_socket import SocketConnectBlockedError

from billing_portal.common.socket_guard import NetworkBlocked

TEST_NET = "192.0.2.1"  # RFC 5737 documentation address
# Blocked attempts are announced as warnings; here they are expected, so any such warning
# in a run's summary is a test elsewhere that tried to reach out.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to:UserWarning")


def test_a_tcp_connection_off_this_machine_is_refused():
    with socket.socket() as sock, pytest.raises(SocketConnectBlockedError, match=TEST_NET):
        sock.connect((TEST_NET, 80))


def test_an_http_request_off_this_machine_is_refused():
    with pytest.raises(SocketConnectBlockedError, match=TEST_NET):
        requests.get(f"http://{TEST_NET}/", timeout=1)


def test_a_udp_datagram_off_this_machine_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(NetworkBlocked, match=TEST_NET):
            sock.sendto(b"x", (TEST_NET, 53))
        with pytest.raises(NetworkBlocked, match=r"127\.0\.0\.53:53"):  # a stub resolver's
            sock.sendto(b"x", ("127.0.0.53", 53))


def test_a_dns_query_to_a_resolver_off_this_machine_is_refused():
    query = dns.message.make_query("example.com", "NS")
    with pytest.raises(NetworkBlocked, match=TEST_NET):
        dns.query.udp(query, TEST_NET, timeout=1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [TEST_NET]
    # The resolver keeps each server's error and gives up when its lifetime ends.
    with pytest.raises(dns.resolver.LifetimeTimeout, match="tried to send a datagram"):
        resolver.resolve("example.com", "NS", lifetime=0.5)


def test_a_name_lookup_through_the_system_resolver_is_refused():
    with pytest.raises(NetworkBlocked, match=r"example\.com"):
        socket.getaddrinfo("example.com", 443)


def test_loopback_still_works():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=1):
            pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.sendto(b"x", udp.getsockname())
        assert udp.recv(1) == b"x"
