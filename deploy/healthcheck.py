"""The web container's healthcheck (docker-compose.yml): GET /healthz from inside the
container, naming a host the portal serves.

The probe connects to 127.0.0.1, but the portal answers 400 to any Host that is not in
ALLOWED_HOSTS (127.0.0.1 is not, in production), so the probe sends the first allowed host.
Exit status 0 when /healthz answers 200 (the database answers), else 1. Standard library
only: it runs every 30 s and should not load Django.
"""

from __future__ import annotations

import http.client
import os
import sys


def probe_host(allowed_hosts: str) -> str:
    """A host name that ALLOWED_HOSTS (comma separated, as the portal reads it) accepts."""
    first = next((host.strip() for host in allowed_hosts.split(",") if host.strip()), "")
    if first in ("", "*"):  # empty: the development defaults, which include localhost
        return "localhost"
    return first.lstrip(".")  # ".example.com" also accepts example.com itself


def main() -> int:
    port = int(os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rsplit(":", 1)[1])
    host = probe_host(os.environ.get("ALLOWED_HOSTS", ""))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz", headers={"Host": host})
        response = connection.getresponse()
        body = response.read(500).decode(errors="replace")
    except OSError as exc:
        print(f"/healthz did not answer: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        connection.close()
    print(f"/healthz as {host}: {response.status} {body}")  # noqa: T201
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
