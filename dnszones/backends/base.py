"""What a DNS backend does. Names are fully qualified with the trailing dot; an RRSet holds
every record of one name and type (the unit every backend replaces as a whole)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class RRSet:
    name: str  # "www.example.com."
    type: str
    ttl: int
    contents: tuple[str, ...] = field(default_factory=tuple)  # empty: delete the set


@dataclass(frozen=True)
class ZoneData:
    name: str  # "example.com."
    rrsets: tuple[RRSet, ...]


class DnsBackend(Protocol):
    def test_connection(self) -> None: ...

    def zone_create(self, zone: ZoneData) -> None:
        """Create the zone with these record sets; an existing zone is brought to them."""

    def zone_delete(self, name: str) -> None:
        """Remove the zone; a zone that is not there is fine."""

    def rrset_replace(self, zone: str, rrsets: list[RRSet]) -> None:
        """Make each set exactly as given (empty contents: remove it); idempotent."""

    def zone_get(self, name: str) -> ZoneData | None:
        """The zone as the server has it, or None when it has none."""
