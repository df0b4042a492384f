"""The tests' network guard, beside pytest-socket: nothing may leave this machine.

pytest-socket (`--allow-hosts` in pytest's addopts) blocks `connect()` to anything but
loopback. A UDP datagram needs no connect (dnspython's queries are `sendto()`), and a name
lookup goes to the system resolver from C, so this plugin also refuses, during each test,
datagrams to non-loopback addresses (or to port 53 anywhere) and lookups of names other
than localhost. Registered as a plugin from the root conftest; active whenever
pytest-socket's `--allow-hosts` is given.
"""

from __future__ import annotations

import ipaddress
import socket
import warnings
from typing import Any

import pytest

_true_sendto = socket.socket.sendto
_true_getaddrinfo = socket.getaddrinfo
DNS_PORT = 53
LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost")


class NetworkBlocked(RuntimeError):
    """Not an OSError, so no "could not reach it, try later" handler can swallow it; and,
    like pytest-socket's error, announced as a warning, so an attempt that some broad
    handler caught still shows in the run's warnings summary."""

    def __init__(self, message: str) -> None:
        warnings.warn(message, stacklevel=3)
        super().__init__(message)


def _is_loopback(host: Any) -> bool:
    if host is None or (isinstance(host, str) and host.lower().rstrip(".") == "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_name(host: Any) -> bool:
    """A name resolved without asking anyone: none, an address literal, or localhost."""
    if isinstance(host, bytes | bytearray):
        host = host.decode()
    if host is None or host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _guarded_sendto(sock: socket.socket, data, *args):
    address = args[-1]
    if sock.family == getattr(socket, "AF_UNIX", None):
        return _true_sendto(sock, data, *args)
    host, port = address[0], address[1]
    # Port 53 even on loopback: a caching stub resolver there would forward the query (the
    # tests' own DNS server listens on a free port).
    if _is_loopback(host) and port != DNS_PORT:
        return _true_sendto(sock, data, *args)
    raise NetworkBlocked(
        f"A test tried to send a datagram to {host}:{port} (only loopback is allowed, "
        "and no resolver's port 53)."
    )


def _guarded_getaddrinfo(host, *args, **kwargs):
    if _local_name(host):
        return _true_getaddrinfo(host, *args, **kwargs)
    raise NetworkBlocked(f"A test tried to look up {host} through the system resolver.")


def _wanted(item: pytest.Item) -> bool:
    if not item.config.getoption("--allow-hosts", default=None):
        return False
    return not (
        item.get_closest_marker("enable_socket")
        or "socket_enabled" in getattr(item, "fixturenames", ())
        or item.config.getoption("--force-enable-socket", default=False)
    )


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _wanted(item):
        socket.socket.sendto = _guarded_sendto  # type: ignore[method-assign]
        socket.getaddrinfo = _guarded_getaddrinfo


def pytest_runtest_teardown(item: pytest.Item) -> None:
    socket.socket.sendto = _true_sendto  # type: ignore[method-assign]
    socket.getaddrinfo = _true_getaddrinfo
