"""ISPConfig 3 remote API, JSON front end (`json.php?<function>`, a JSON object of the
function's parameters; every answer `{"code", "message", "response"}` with HTTP 200, so
`code` is checked). A record set is replaced by deleting the records of that name and type
and adding the wanted ones, which is idempotent."""

from __future__ import annotations

import re
from typing import Any

import requests
from django.utils import timezone

from dnszones.backends.base import RRSet, ZoneData
from dnszones.errors import DnsBackendError

TIMEOUT = (10, 25)
TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SRV", "CAA")
WITH_AUX = ("MX", "SRV")  # the priority goes in `aux`


def _unquote_txt(content: str) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', content)) or content


class IspConfigBackend:
    def __init__(
        self, *, url: str, username: str, password: str, client_id: int, server_id: int = 1
    ) -> None:
        self.url = url
        self.username, self.password = username, password
        self.client_id, self.server_id = client_id, server_id
        self.http = requests.Session()
        self._session_id = ""

    # --- transport ----------------------------------------------------------------------

    def _call(self, function: str, **params: Any) -> Any:
        try:
            response = self.http.post(f"{self.url}?{function}", json=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise DnsBackendError(
                f"ISPConfig could not be reached ({type(exc).__name__}).", retryable=True
            ) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise DnsBackendError(
                f"ISPConfig answered {response.status_code}.",
                retryable=True,
                status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise DnsBackendError(
                "ISPConfig answered with something other than JSON.", retryable=False
            ) from exc
        if body.get("code") != "ok":
            message = body.get("message") or body.get("code") or "unknown error"
            raise DnsBackendError(f"ISPConfig: {message}"[:300], retryable=False)
        return body.get("response")

    def _sid(self) -> str:
        if not self._session_id:
            self._session_id = self._call(
                "login", username=self.username, password=self.password, client_login=False
            )
        return self._session_id

    # --- zones --------------------------------------------------------------------------

    def test_connection(self) -> None:
        self._sid()

    def _zone_id(self, name: str) -> int | None:
        found = self._call("dns_zone_get", session_id=self._sid(), primary_id={"origin": name})
        rows = found if isinstance(found, list) else [found] if found else []
        return int(rows[0]["id"]) if rows else None

    def zone_create(self, zone: ZoneData) -> None:
        soa = next(r for r in zone.rrsets if r.type == "SOA").contents[0].split()
        if self._zone_id(zone.name) is None:
            self._call(
                "dns_zone_add",
                session_id=self._sid(),
                client_id=self.client_id,
                params={
                    "server_id": self.server_id,
                    "origin": zone.name,
                    "ns": soa[0],
                    "mbox": soa[1],
                    "serial": soa[2],
                    "refresh": soa[3],
                    "retry": soa[4],
                    "expire": soa[5],
                    "minimum": soa[6],
                    "ttl": "3600",
                    "active": "y",
                    "xfer": "",
                    "also_notify": "",
                    "update_acl": "",
                },
            )
        self.rrset_replace(zone.name, [r for r in zone.rrsets if r.type != "SOA"])

    def zone_delete(self, name: str) -> None:
        zone_id = self._zone_id(name)
        if zone_id is not None:
            self._call("dns_zone_delete", session_id=self._sid(), primary_id=zone_id)

    def rrset_replace(self, zone: str, rrsets: list[RRSet]) -> None:
        zone_id = self._zone_id(zone)
        if zone_id is None:
            raise DnsBackendError(f"ISPConfig has no zone {zone}.", retryable=False)
        for rrset in rrsets:
            if rrset.type == "SOA":
                self._call(
                    "dns_zone_update",
                    session_id=self._sid(),
                    client_id=self.client_id,
                    primary_id=zone_id,
                    params={"serial": rrset.contents[0].split()[2]},
                )
                continue
            family = rrset.type.lower()
            existing = (
                self._call(
                    f"dns_{family}_get",
                    session_id=self._sid(),
                    primary_id={"zone": zone_id, "name": rrset.name, "type": family},
                )
                or []
            )
            for row in existing:
                self._call(
                    f"dns_{family}_delete", session_id=self._sid(), primary_id=int(row["id"])
                )
            for content in rrset.contents:
                self._call(
                    f"dns_{family}_add",
                    session_id=self._sid(),
                    client_id=self.client_id,
                    params=self._record(zone_id, rrset, content),
                )

    def _record(self, zone_id: int, rrset: RRSet, content: str) -> dict[str, Any]:
        aux, data = "0", content
        if rrset.type in WITH_AUX:
            aux, data = content.split(" ", 1)
        elif rrset.type == "TXT":
            data = _unquote_txt(content)
        return {
            "server_id": self.server_id,
            "zone": zone_id,
            "name": rrset.name,
            "type": rrset.type.lower(),
            "data": data,
            "aux": aux,
            "ttl": str(rrset.ttl),
            "active": "y",
            "stamp": timezone.now().strftime("%Y-%m-%d %H:%M:%S"),
            "serial": "",
        }

    def zone_get(self, name: str) -> ZoneData | None:
        zone_id = self._zone_id(name)
        if zone_id is None:
            return None
        sets: dict[tuple[str, str], list[str]] = {}
        ttls: dict[tuple[str, str], int] = {}
        for rtype in TYPES:
            rows = (
                self._call(
                    f"dns_{rtype.lower()}_get", session_id=self._sid(), primary_id={"zone": zone_id}
                )
                or []
            )
            for row in rows:
                key = (row["name"], rtype)
                data = row["data"]
                if rtype in WITH_AUX:
                    data = f"{row['aux']} {data}"
                elif rtype == "TXT":
                    data = f'"{data}"'
                sets.setdefault(key, []).append(data)
                ttls[key] = int(row.get("ttl") or 3600)
        rrsets = tuple(RRSet(n, t, ttls[(n, t)], tuple(sorted(c))) for (n, t), c in sets.items())
        return ZoneData(name, rrsets)
