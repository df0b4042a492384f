"""The local backend for `make run`: zones live only in the portal's database."""

from __future__ import annotations

from dnszones.backends.base import RRSet, ZoneData


class LocalBackend:
    def test_connection(self) -> None:
        return None

    def zone_create(self, zone: ZoneData) -> None:
        return None

    def zone_delete(self, name: str) -> None:
        return None

    def rrset_replace(self, zone: str, rrsets: list[RRSet]) -> None:
        return None

    def zone_get(self, name: str) -> ZoneData | None:
        return None  # nothing to compare with: reconciliation has nothing to repair
