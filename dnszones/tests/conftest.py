"""A throw-away PowerDNS Authoritative server (Debian's pdns-server with the sqlite3 backend)
on free loopback ports, for the tests that check what the portal pushes is really served."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
API_KEY = "test-pdns-key"


@dataclass(frozen=True)
class Pdns:
    api_url: str
    api_key: str
    dns_port: int

    def zone_api(self, name: str = "") -> str:
        return f"{self.api_url}/api/v1/servers/localhost/zones{'/' + name if name else ''}"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dns_and_api_ports() -> tuple[int, int]:
    """A port free for DNS over both UDP and TCP, and another for the API (the kernel may
    hand out the same number for a UDP and a TCP socket, and pdns binds DNS on both)."""
    for _ in range(50):
        dns_port = _free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", dns_port))
            except OSError:
                continue
            api_port = _free_port(socket.SOCK_STREAM)
        if api_port != dns_port:
            return dns_port, api_port
    raise RuntimeError("no free ports for pdns_server")


@pytest.fixture(scope="session")
def pdns_server(tmp_path_factory) -> Iterator[Pdns]:
    binary = shutil.which("pdns_server") or "/usr/sbin/pdns_server"
    if not (Path(binary).exists() and SCHEMA.exists()):
        if os.environ.get("CI"):
            pytest.fail("pdns-server and pdns-backend-sqlite3 must be installed in CI (.ci/run).")
        pytest.skip("PowerDNS is not installed (apt-get install pdns-server pdns-backend-sqlite3)")
    home = tmp_path_factory.mktemp("pdns")
    with sqlite3.connect(home / "pdns.sqlite3") as db:
        db.executescript(SCHEMA.read_text())
    dns_port, api_port = _dns_and_api_ports()
    (home / "pdns.conf").write_text(
        "\n".join(
            [
                "launch=gsqlite3",
                f"gsqlite3-database={home / 'pdns.sqlite3'}",
                "local-address=127.0.0.1",
                f"local-port={dns_port}",
                "webserver=yes",
                "webserver-address=127.0.0.1",
                f"webserver-port={api_port}",
                "webserver-allow-from=127.0.0.1",
                "api=yes",
                f"api-key={API_KEY}",
                f"socket-dir={home}",
                "guardian=no",
                "daemon=no",
                "disable-syslog=yes",
                "security-poll-suffix=",  # no outbound security-status lookup
                "cache-ttl=0",
                "negquery-cache-ttl=0",
                "query-cache-ttl=0",
                "zone-cache-refresh-interval=0",
            ]
        )
        + "\n"
    )
    log = (home / "pdns.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config-dir={home}"], stdout=log, stderr=subprocess.STDOUT
    )
    server = Pdns(f"http://127.0.0.1:{api_port}", API_KEY, dns_port)
    try:
        for _ in range(100):
            try:
                if requests.get(
                    f"{server.api_url}/api/v1/servers", timeout=1, headers={"X-API-Key": API_KEY}
                ).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("pdns_server did not start: " + (home / "pdns.log").read_text())
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def powerdns(pdns_server, settings) -> Pdns:
    """The portal configured to push to the test PowerDNS; zones it has are removed after."""
    settings.DNS_BACKEND = "powerdns"
    settings.DNS_POWERDNS_URL = pdns_server.api_url
    settings.DNS_POWERDNS_API_KEY = pdns_server.api_key
    settings.DNS_RESOLVER = f"127.0.0.1:{pdns_server.dns_port}"
    yield pdns_server
    headers = {"X-API-Key": pdns_server.api_key}
    for zone in requests.get(pdns_server.zone_api(), headers=headers, timeout=5).json():
        requests.delete(pdns_server.zone_api(zone["id"]), headers=headers, timeout=5)


PROXY_IP = "203.0.113.80"


@pytest.fixture
def parent_zone(powerdns, settings):
    """The registry side: a parent zone "test." delegating shop.test to our name servers and
    elsewhere.test to someone else's."""
    settings.DNS_PROXY_IP = PROXY_IP
    ns = [f"{n}." for n in settings.DNS_REQUIRED_NAMESERVERS]
    body = {
        "name": "test.",
        "kind": "Native",
        "nameservers": ["a.nic.test."],
        "rrsets": [
            {
                "name": "shop.test.",
                "type": "NS",
                "ttl": 60,
                "records": [{"content": n, "disabled": False} for n in ns],
            },
            {
                "name": "elsewhere.test.",
                "type": "NS",
                "ttl": 60,
                "records": [{"content": "ns1.other-dns.example.", "disabled": False}],
            },
        ],
    }
    response = requests.post(
        powerdns.zone_api(), json=body, timeout=5, headers={"X-API-Key": powerdns.api_key}
    )
    assert response.status_code == 201, response.text
    return powerdns
