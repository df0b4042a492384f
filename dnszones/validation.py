"""Zone names and records as customers type them, checked and normalised to zone-file form.

Every function raises InvalidRecord / InvalidZoneName with a message for the customer, before
anything is stored or pushed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings

from billing_portal.common.hostnames import host_name_ascii, is_public_suffix, label_to_ascii
from dnszones.errors import InvalidRecord, InvalidZoneName

PROXY_ALIAS = "PROXYSRV"
LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
TXT_CHUNK = 255
TXT_MAX = 4000
CAA_TAGS = ("issue", "issuewild", "iodef")


def zone_name_normalize(raw: str) -> str:
    """A zone name as stored: lower-case ASCII (punycode), no trailing dot."""
    name = (raw or "").strip().rstrip(".").lower()
    if not name:
        raise InvalidZoneName("Enter the domain name.")
    if any(c.isspace() for c in name) or "/" in name or ":" in name:
        raise InvalidZoneName(f"{raw!r} is not a domain name.")
    try:
        name = host_name_ascii(name, min_labels=2)
    except ValueError as exc:
        raise InvalidZoneName(f"{raw!r} is not a valid domain name.") from exc
    if is_public_suffix(name):
        raise InvalidZoneName(f"{name} is a public suffix: use a domain registered under it.")
    return name


def hostname_normalize(raw: str, *, what: str = "Host name") -> str:
    """A fully qualified host name with its trailing dot."""
    host = (raw or "").strip().lower()
    if not host or host == ".":
        raise InvalidRecord(f"{what}: enter a host name.")
    try:
        ipaddress.ip_address(host.rstrip("."))
    except ValueError:
        pass
    else:
        raise InvalidRecord(f"{what} must be a name, not an IP address.")
    try:
        ascii_host = host_name_ascii(host, min_labels=2, service_labels=True)
    except ValueError as exc:
        raise InvalidRecord(f"{what}: {raw!r} is not a valid fully qualified host name.") from exc
    return ascii_host + "."


def record_name_normalize(raw: str, *, zone: str) -> str:
    """'@' for the apex, else the name relative to the zone (lower-case ASCII)."""
    name = (raw or "").strip().lower()
    if name in ("", "@", zone, zone + "."):
        return "@"
    if name.endswith("."):
        if not name.endswith("." + zone + "."):
            raise InvalidRecord(f"{raw!r} is not inside {zone}.")
        name = name[: -len(zone) - 2]
    labels = name.split(".")
    try:
        labels = [lb if lb == "*" or lb.startswith("_") else label_to_ascii(lb) for lb in labels]
    except ValueError as exc:
        raise InvalidRecord(f"Name {raw!r} is not valid.") from exc
    for index, label in enumerate(labels):
        if label == "*" and index == 0:
            continue
        if not LABEL.fullmatch(label):
            raise InvalidRecord(
                f"Name {raw!r}: labels use letters, digits, '-' and '_', at most 63 each."
            )
    relative = ".".join(labels)
    if len(relative) + len(zone) + 1 > 253:
        raise InvalidRecord("The full name is longer than 253 characters.")
    return relative


def _int(value: str, *, low: int, high: int, what: str) -> int:
    if not re.fullmatch(r"[0-9]+", value or ""):  # not \d: int() also reads "١٢٣"
        raise InvalidRecord(f"{what} must be a whole number from {low} to {high}.")
    number = int(value)
    if not low <= number <= high:
        raise InvalidRecord(f"{what} must be from {low} to {high}.")
    return number


def ttl_validate(value) -> int:
    return _int(str(value).strip(), low=settings.DNS_TTL_MIN, high=settings.DNS_TTL_MAX, what="TTL")


def _a(content: str) -> str:
    if content.upper() == PROXY_ALIAS:
        return PROXY_ALIAS
    try:
        return str(ipaddress.IPv4Address(content))
    except ValueError as exc:
        raise InvalidRecord(f"{content!r} is not an IPv4 address (or {PROXY_ALIAS}).") from exc


def _aaaa(content: str) -> str:
    if "%" in content:  # a zone id (fe80::1%eth0) is local to one machine
        raise InvalidRecord(f"{content!r} is not an IPv6 address for DNS (no %zone).")
    try:
        return ipaddress.IPv6Address(content).compressed
    except ValueError as exc:
        raise InvalidRecord(f"{content!r} is not an IPv6 address.") from exc


def _mx(content: str) -> str:
    parts = content.split()
    if len(parts) != 2:
        raise InvalidRecord(
            'MX: give the priority and the mail server, e.g. "10 mail.example.com".'
        )
    priority = _int(parts[0], low=0, high=65535, what="MX priority")
    return f"{priority} {hostname_normalize(parts[1], what='Mail server')}"


def _srv(content: str) -> str:
    parts = content.split()
    if len(parts) != 4:
        raise InvalidRecord(
            'SRV: give priority, weight, port and target, e.g. "10 5 5060 sip.example.com".'
        )
    priority = _int(parts[0], low=0, high=65535, what="SRV priority")
    weight = _int(parts[1], low=0, high=65535, what="SRV weight")
    port = _int(parts[2], low=0, high=65535, what="SRV port")
    target = "." if parts[3] == "." else hostname_normalize(parts[3], what="SRV target")
    return f"{priority} {weight} {port} {target}"


def _txt(content: str) -> str:
    """Quoted strings of at most 255 characters; text without quotes is split and quoted."""
    if len(content) > TXT_MAX:
        raise InvalidRecord(f"TXT: at most {TXT_MAX} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in content):
        raise InvalidRecord("TXT: control characters (such as line breaks) are not allowed.")
    if content.startswith('"'):
        chunks = re.findall(r'"((?:[^"\\]|\\.)*)"\s*', content)
        if "".join(f'"{c}"' for c in chunks) != re.sub(r'"\s+"', '""', content.strip()):
            raise InvalidRecord('TXT: quotes do not match; write text, or "quoted" "strings".')
        if any(len(c.replace('\\"', '"')) > TXT_CHUNK for c in chunks):
            raise InvalidRecord(f"TXT: each quoted string is at most {TXT_CHUNK} characters.")
        return " ".join(f'"{c}"' for c in chunks)
    escaped = content.replace("\\", "\\\\").replace('"', '\\"')
    pieces = [escaped[i : i + TXT_CHUNK] for i in range(0, len(escaped), TXT_CHUNK)]
    return " ".join(f'"{p}"' for p in pieces)


def _caa(content: str) -> str:
    match = re.fullmatch(r'(\d+)\s+([A-Za-z0-9]+)\s+"?([^"]*)"?', content)
    if not match:
        raise InvalidRecord('CAA: give flags, tag and value, e.g. 0 issue "letsencrypt.org".')
    flags = _int(match.group(1), low=0, high=255, what="CAA flags")
    tag, value = match.group(2).lower(), match.group(3).strip()
    if tag not in CAA_TAGS:
        raise InvalidRecord(f"CAA tag must be one of {', '.join(CAA_TAGS)}.")
    if tag == "iodef":
        url = urlparse(value)
        if url.scheme not in ("mailto", "http", "https") or not (url.netloc or url.path):
            raise InvalidRecord("CAA iodef: give a mailto: or https:// address.")
    elif value != ";":
        domain = value.split(";")[0].strip()
        hostname_normalize(domain, what="CAA issuer")
    return f'{flags} {tag} "{value}"'


def _target(what: str):
    return lambda content: hostname_normalize(content, what=what)


CONTENT = {
    "A": _a,
    "AAAA": _aaaa,
    "CNAME": _target("CNAME target"),
    "MX": _mx,
    "NS": _target("Name server"),
    "TXT": _txt,
    "SRV": _srv,
    "CAA": _caa,
}


@dataclass(frozen=True)
class CleanRecord:
    name: str
    type: str
    ttl: int
    content: str


def record_clean(*, zone: str, name: str, type: str, ttl, content: str) -> CleanRecord:
    """One record checked on its own (exclusivity and limits are checked with the zone)."""
    rtype = (type or "").strip().upper()
    if rtype not in CONTENT:
        raise InvalidRecord(f"Type {type!r} is not supported; use {', '.join(CONTENT)}.")
    clean_name = record_name_normalize(name, zone=zone)
    raw = (content or "").strip()
    if not raw:
        raise InvalidRecord("Enter the record's value.")
    if rtype == "SRV" and not re.match(r"^_[a-z0-9-]+\._(tcp|udp|tls|sctp)(\.|$)", clean_name):
        raise InvalidRecord('SRV names start with _service._protocol, e.g. "_sip._tcp".')
    if rtype == "CNAME" and clean_name == "@":
        raise InvalidRecord("A CNAME cannot be at the zone apex; use A/AAAA records there.")
    if rtype == "NS" and clean_name == "@":
        raise InvalidRecord("The zone's own name servers are managed by us.")
    return CleanRecord(clean_name, rtype, ttl_validate(ttl), CONTENT[rtype](raw))
