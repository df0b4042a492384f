"""PowerDNS Authoritative HTTP API (X-API-Key). Checked against pdns-server 4.7: only REPLACE
and DELETE change types; 401/404/409 answer in plain text, 422 with {"error": ...}."""

from __future__ import annotations

from typing import Any

import requests

from dnszones.backends.base import RRSet, ZoneData
from dnszones.errors import DnsBackendError

TIMEOUT = (10, 25)


class PowerDnsBackend:
    def __init__(self, *, base_url: str, api_key: str, server_id: str = "localhost") -> None:
        self.base = f"{base_url.rstrip('/')}/api/v1/servers/{server_id}"
        self.session = requests.Session()
        self.session.headers.update({"X-API-Key": api_key, "Accept": "application/json"})

    def _call(
        self, method: str, path: str, *, ok: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        try:
            response = self.session.request(method, f"{self.base}{path}", timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise DnsBackendError(
                f"PowerDNS could not be reached ({type(exc).__name__}).", retryable=True
            ) from exc
        if response.ok or response.status_code in ok:
            return response
        try:
            detail = response.json().get("error", "")
        except ValueError:
            detail = response.text.strip()
        message = f"PowerDNS answered {response.status_code}: {detail or response.reason}"[:300]
        retryable = response.status_code in (429,) or response.status_code >= 500
        raise DnsBackendError(message, retryable=retryable, status=response.status_code)

    @staticmethod
    def _rrset(rrset: RRSet) -> dict[str, Any]:
        if not rrset.contents:
            return {"name": rrset.name, "type": rrset.type, "changetype": "DELETE"}
        return {
            "name": rrset.name,
            "type": rrset.type,
            "ttl": rrset.ttl,
            "changetype": "REPLACE",
            "records": [{"content": c, "disabled": False} for c in rrset.contents],
        }

    def test_connection(self) -> None:
        self._call("GET", "")

    def zone_create(self, zone: ZoneData) -> None:
        # soa_edit_api "": the SOA serial is the portal's, which raises it on every change.
        body: dict[str, Any] = {
            "name": zone.name,
            "kind": "Native",
            "nameservers": [],
            "soa_edit_api": "",
            "rrsets": [
                self._rrset(r) | {"changetype": "REPLACE"} for r in zone.rrsets if r.contents
            ],
        }
        for rrset in body["rrsets"]:
            rrset.pop("changetype")
        response = self._call("POST", "/zones", json=body, ok=(409,))
        if response.status_code == 409:  # there already (an earlier attempt): make it right
            self.rrset_replace(zone.name, list(zone.rrsets))

    def zone_delete(self, name: str) -> None:
        self._call("DELETE", f"/zones/{name}", ok=(404,))

    def rrset_replace(self, zone: str, rrsets: list[RRSet]) -> None:
        self._call("PATCH", f"/zones/{zone}", json={"rrsets": [self._rrset(r) for r in rrsets]})

    def zone_get(self, name: str) -> ZoneData | None:
        response = self._call("GET", f"/zones/{name}", ok=(404,))
        if response.status_code == 404:
            return None
        body = response.json()
        rrsets = tuple(
            RRSet(
                r["name"],
                r["type"],
                r["ttl"],
                tuple(sorted(x["content"] for x in r["records"] if not x["disabled"])),
            )
            for r in body.get("rrsets", [])
        )
        return ZoneData(body["name"], rrsets)
