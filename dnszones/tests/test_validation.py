"""Zone names and records as customers type them: at least 40 valid and invalid cases per
record type, each invalid one refused with a message."""

from __future__ import annotations

import pytest

from dnszones.errors import InvalidRecord, InvalidZoneName
from dnszones.validation import record_clean, zone_name_normalize

ZONE = "example.com"

VALID = {
    "A": [
        ("@", "192.0.2.1", "192.0.2.1"), ("www", "198.51.100.7", "198.51.100.7"),
        ("*", "203.0.113.9", "203.0.113.9"), ("a.b", "10.0.0.1", "10.0.0.1"),
        ("www", "proxysrv", "PROXYSRV"), ("app", "PROXYSRV", "PROXYSRV"),
        ("x-1", "0.0.0.0", "0.0.0.0"), ("_acme", "255.255.255.255", "255.255.255.255"),
        ("www.example.com.", "192.0.2.2", "192.0.2.2"), ("MiXeD", "192.0.2.3", "192.0.2.3"),
        ("münchen", "192.0.2.4", "192.0.2.4"), ("*.dev", "192.0.2.5", "192.0.2.5"),
    ],
    "AAAA": [
        ("@", "2001:db8::1", "2001:db8::1"), ("www", "2001:0db8:0000:0000:0000:0000:0000:0001",
                                              "2001:db8::1"),
        ("v6", "::1", "::1"), ("v6b", "fe80::1", "fe80::1"), ("all", "::", "::"),
        ("full", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
        ("up", "2001:DB8::ABCD", "2001:db8::abcd"), ("m", "::ffff:192.0.2.1", "::ffff:c000:201"),
        ("a.b", "2001:db8::2", "2001:db8::2"), ("*", "2001:db8::3", "2001:db8::3"),
        ("x", "2001:db8:0:0:1::1", "2001:db8::1:0:0:1"), ("y", "2001:db8::4", "2001:db8::4"),
    ],
    "CNAME": [
        ("www", "example.net", "example.net."), ("www2", "example.net.", "example.net."),
        ("cdn", "a.b.cdn.example", "a.b.cdn.example."), ("m", "Target.Example.org", "target.example.org."),
        ("x", "münchen.de", "xn--mnchen-3ya.de."), ("shop", "shops.myshopify.com", "shops.myshopify.com."),
        ("a.b", "c.example.com", "c.example.com."), ("*", "wild.example.net", "wild.example.net."),
        ("_dm", "_domainkey.example.net", "_domainkey.example.net."),
        ("dash", "a-b.example.net", "a-b.example.net."), ("n1", "1.example.net", "1.example.net."),
        ("long", "a" * 63 + ".example.net", "a" * 63 + ".example.net."),
    ],
    "MX": [
        ("@", "10 mail.example.com", "10 mail.example.com."), ("@", "0 mx.example.net.", "0 mx.example.net."),
        ("sub", "65535 mx.example.org", "65535 mx.example.org."), ("@", "5   mx2.example.com", "5 mx2.example.com."),
        ("a", "20 ASPMX.L.GOOGLE.COM", "20 aspmx.l.google.com."), ("b", "1 m.example.co.uk", "1 m.example.co.uk."),
        ("c", "100 mx-1.example.net", "100 mx-1.example.net."), ("d", "7 münchen.de", "7 xn--mnchen-3ya.de."),
        ("e", "10 mail.example.com.", "10 mail.example.com."), ("f", "50 m.example.net", "50 m.example.net."),
        ("g", "9 mx.example.io", "9 mx.example.io."), ("h", "3 mx.example.dev", "3 mx.example.dev."),
    ],
    "NS": [
        ("sub", "ns1.example.net", "ns1.example.net."), ("sub", "ns2.example.net.", "ns2.example.net."),
        ("a.b", "ns.example.org", "ns.example.org."), ("dev", "NS1.EXAMPLE.NET", "ns1.example.net."),
        ("x", "ns-1.example.net", "ns-1.example.net."), ("y", "a.ns.example.net", "a.ns.example.net."),
        ("z", "münchen.de", "xn--mnchen-3ya.de."), ("w", "ns.example.co.uk", "ns.example.co.uk."),
        ("v", "ns9.example.io", "ns9.example.io."), ("u", "d.ns.example.dev", "d.ns.example.dev."),
        ("t", "ns.example.app", "ns.example.app."), ("s", "ns0.example.com", "ns0.example.com."),
    ],
    "TXT": [
        ("@", "v=spf1 mx -all", '"v=spf1 mx -all"'), ("_dmarc", "v=DMARC1; p=none", '"v=DMARC1; p=none"'),
        ("@", '"v=spf1 -all"', '"v=spf1 -all"'), ("x", '"part one" "part two"', '"part one" "part two"'),
        ("long", "a" * 300, f'"{"a" * 255}" "{"a" * 45}"'), ("q", 'say "hi"', '"say \\"hi\\""'),
        ("u", "ünïcode", '"ünïcode"'), ("s", "  spaced  ", '"spaced"'),
        ("k._domainkey", "k=rsa; p=MIGf", '"k=rsa; p=MIGf"'), ("e", '""', '""'),
        ("b", "back\\slash", '"back\\\\slash"'), ("m", "x" * 255, f'"{"x" * 255}"'),
    ],
    "SRV": [
        ("_sip._tcp", "10 5 5060 sip.example.com", "10 5 5060 sip.example.com."),
        ("_xmpp._tcp", "0 0 5222 xmpp.example.net.", "0 0 5222 xmpp.example.net."),
        ("_minecraft._tcp", "0 5 25565 mc.example.com", "0 5 25565 mc.example.com."),
        ("_a._udp", "1 1 1 a.example.org", "1 1 1 a.example.org."), ("_b._tls", "2 2 443 b.example.org", "2 2 443 b.example.org."),
        ("_c._sctp", "3 3 3 c.example.org", "3 3 3 c.example.org."), ("_none._tcp", "0 0 0 .", "0 0 0 ."),
        ("_d._tcp.sub", "4 4 4 d.example.org", "4 4 4 d.example.org."),
        ("_e._tcp", "65535 65535 65535 e.example.org", "65535 65535 65535 e.example.org."),
        ("_f._udp", "5 0 53 ns.example.org", "5 0 53 ns.example.org."),
        ("_g._tcp", "6 6 8080 G.Example.Org", "6 6 8080 g.example.org."),
        ("_h._tcp", "7 7 7 h.example.co.uk", "7 7 7 h.example.co.uk."),
    ],
    "CAA": [
        ("@", '0 issue "letsencrypt.org"', '0 issue "letsencrypt.org"'),
        ("@", "0 issue letsencrypt.org", '0 issue "letsencrypt.org"'),
        ("@", '0 issuewild ";"', '0 issuewild ";"'), ("@", '128 issue "ca.example.net"', '128 issue "ca.example.net"'),
        ("@", '0 iodef "mailto:sec@example.com"', '0 iodef "mailto:sec@example.com"'),
        ("@", '0 iodef "https://example.com/caa"', '0 iodef "https://example.com/caa"'),
        ("www", '0 ISSUE "pki.goog"', '0 issue "pki.goog"'), ("a", '0 issue ";"', '0 issue ";"'),
        ("b", '0 issue "digicert.com; cansignhttpexchanges=yes"', '0 issue "digicert.com; cansignhttpexchanges=yes"'),
        ("c", '0 issuewild "sectigo.com"', '0 issuewild "sectigo.com"'),
        ("d", '0 iodef "http://example.com/r"', '0 iodef "http://example.com/r"'),
        ("e", '1 issue "ca.example.org"', '1 issue "ca.example.org"'),
    ],
}  # fmt: skip

INVALID = {
    "A": [
        ("www", "256.1.1.1"), ("www", "1.2.3"), ("www", "1.2.3.4.5"), ("www", "abc"),
        ("www", "2001:db8::1"), ("www", "1.2.3.4:80"), ("www", "01.2.3.4"), ("www", "-1.2.3.4"),
        ("www", ""), ("bad name", "1.2.3.4"), ("a..b", "1.2.3.4"), ("-lead", "1.2.3.4"),
        ("trail-", "1.2.3.4"), ("a" * 64, "1.2.3.4"), ("www.other.net.", "1.2.3.4"),
        ("x.*", "1.2.3.4"), ("w!", "1.2.3.4"), ("www", "PROXY"), ("www", "1.2.3.4/24"),
        ("www", "0x7f.0.0.1"), ("www", "1,2,3,4"), ("www", "http://1.2.3.4"),
        (".".join(c * 60 for c in "wxyzv"), "1.2.3.4"),
        ("www", "1.2.3.4\n5"), ("www", "::ffff:1.2.3.4"), ("www", "1.2.3.04"),
        ("www", "localhost"), ("www", "999.999.999.999"),
    ],
    "AAAA": [
        ("v6", "2001:db8::g"), ("v6", "1.2.3.4"), ("v6", "2001:db8:::1"), ("v6", ":::"),
        ("v6", "2001:db8::1::2"), ("v6", "12345::1"), ("v6", "2001:db8:1:2:3:4:5:6:7"),
        ("v6", ""), ("v6", "fe80::1%eth0"), ("v6", "[2001:db8::1]"), ("v 6", "2001:db8::1"),
        ("v6", "2001:db8::/32"), ("v6", "proxysrv"), ("v6", "abc"), ("v6", "2001-db8--1"),
        ("v6", "::1 ::2"), ("-v6", "::1"), ("v6", "gggg::1"), ("v6", "2001:db8:0:0:0:0:0:0:1"),
        ("v6", "1::2::3"), ("v6", "::fffff"), ("v6", "2001.db8..1"), ("v6", "http://[::1]"),
        ("v6", "1:2:3:4:5:6:7:8:"), ("v6", ":1:2:3:4:5:6:7"), ("v6", "1"), ("v6", "::1,::2"),
        ("v6", "::1\t::2"),
    ],
    "CNAME": [
        ("@", "example.net"), ("www", "192.0.2.1"), ("www", "2001:db8::1"), ("www", "localhost"),
        ("www", "bad host.example"), ("www", "-a.example.net"), ("www", "a-.example.net"),
        ("www", ""), ("www", "."), ("www", "a..example.net"), ("www", "a" * 64 + ".example.net"),
        ("www", "exa_mple.net"), ("www", "http://example.net"), ("www", "example.net/path"),
        ("www", "ex ample.net"), ("www", "*.example.net"), ("www", "example"), ("bad name", "example.net"),
        ("www", "user@example.net"), ("www", "example.net:80"), ("www", "a.b.c." * 60 + "net"),
        ("www", "!.example.net"), ("www", "e$.example.net"), ("example.com.", "x.example.net"),
        ("www", "xn--.example.net"), ("www", "..example.net"), ("www", "example..net"),
        ("www", "exa mple"),
    ],
    "MX": [
        ("@", "mail.example.com"), ("@", "10"), ("@", "-1 mail.example.com"),
        ("@", "65536 mail.example.com"), ("@", "ten mail.example.com"), ("@", "10 192.0.2.1"),
        ("@", "10 mail.example.com extra"), ("@", ""), ("@", "10 ."), ("@", "10 localhost"),
        ("@", "10 bad host"), ("@", "1.5 mail.example.com"), ("@", "10 -m.example.com"),
        ("@", "10 m..example.com"), ("@", "10 http://m.example.com"), ("@", "10 m_x.example.com"),
        ("@", "10 2001:db8::1"), ("@", "+10 mail.example.com"), ("@", "10,mail.example.com"),
        ("@", "0x10 mail.example.com"), ("@", "10 mail.example.com:25"), ("bad name", "10 m.example.com"),
        ("@", "10 " + "a" * 64 + ".example.com"), ("@", "10 *.example.com"), ("@", "10 e$.example.com"),
        ("@", "99999999 mail.example.com"), ("@", " "), ("@", "10 user@example.com"),
    ],
    "NS": [
        ("@", "ns1.example.net"), ("sub", "192.0.2.1"), ("sub", ""), ("sub", "ns1"),
        ("sub", "bad host"), ("sub", "-ns.example.net"), ("sub", "ns-.example.net"),
        ("sub", "ns..example.net"), ("sub", "http://ns.example.net"), ("sub", "ns.example.net/x"),
        ("sub", "2001:db8::1"), ("sub", "."), ("sub", "ns_1.example.net"), ("bad name", "ns.example.net"),
        ("sub", "*.example.net"), ("sub", "ns.example.net:53"), ("sub", "a" * 64 + ".example.net"),
        ("sub", "ns$.example.net"), ("sub", "ns example.net"), ("sub", "ns.example.net extra"),
        ("sub", "localhost"), ("sub", "..ns.example"), ("sub", "ns.example..net"),
        ("example.com.", "ns.example.net"), ("sub", "user@ns.example.net"), ("sub", "!"),
        ("sub", "ns.-example.net"), ("sub", "ns.example-.net"),
    ],
    "TXT": [
        ("@", ""), ("@", "line\nbreak"), ("@", "tab\there"), ("@", '"unclosed'),
        ("@", '"a" b'), ("@", '"' + "a" * 256 + '"'), ("@", "x" * 4001), ("@", "bell\x07"),
        ("bad name", "text"), ("@", '"a""b'), ("@", '"a" "b" c'), ("@", '"a" "b'),
        ("@", "\x00null"), ("@", "del\x7f"), ("@", '"a" x "b"'), ("-x", "text"),
        ("x-", "text"), ("a..b", "text"), ("@", "cr\rhere"), ("@", '"' * 3),
        ("a" * 64, "text"), ("@", '"ok" trailing'), ("@", "\x1b[31m"), ("@", '" "" "'),
        ("x.*", "text"), ("@", "   "), ("@", "form\x0cfeed"), ("w!", "text"),
    ],
    "SRV": [
        ("_sip._tcp", "10 5 5060"), ("sip._tcp", "10 5 5060 sip.example.com"),
        ("_sip.tcp", "10 5 5060 sip.example.com"), ("_sip._foo", "10 5 5060 sip.example.com"),
        ("@", "10 5 5060 sip.example.com"), ("_sip._tcp", "-1 5 5060 sip.example.com"),
        ("_sip._tcp", "10 65536 5060 sip.example.com"), ("_sip._tcp", "10 5 70000 sip.example.com"),
        ("_sip._tcp", "10 5 5060 192.0.2.1"), ("_sip._tcp", "a b c d"), ("_sip._tcp", ""),
        ("_sip._tcp", "10 5 5060 bad host"), ("_sip._tcp", "10 5 5060 sip.example.com x"),
        ("_sip._tcp", "10 5 5060 localhost"), ("www", "10 5 5060 sip.example.com"),
        ("_sip._tcp", "1.5 5 5060 sip.example.com"), ("_sip._tcp", "10 5 50.60 sip.example.com"),
        ("_sip._tcp", "10 5 5060 -sip.example.com"), ("_sip._tcp", "10 5 5060 http://sip.example.com"),
        ("_sip", "10 5 5060 sip.example.com"), ("_sip._tcp", "10 5 5060 sip..example.com"),
        ("_sip._tcp", "10 5 5060 *.example.com"), ("_sip._tcp", "10,5,5060,sip.example.com"),
        ("_sip._tcp", "10 5 5060 2001:db8::1"), ("_si p._tcp", "10 5 5060 sip.example.com"),
        ("_sip._tcp", "+1 5 5060 sip.example.com"), ("_sip._tcp", "10 5 5060 s$p.example.com"),
        ("_sip._tcp", "10 5 -5060 sip.example.com"),
    ],
    "CAA": [
        ("@", "issue letsencrypt.org"), ("@", '256 issue "letsencrypt.org"'),
        ("@", '0 tag "letsencrypt.org"'), ("@", '0 issue "not a domain"'), ("@", ""),
        ("@", '0 iodef "ftp://example.com"'), ("@", '0 iodef "example.com"'),
        ("@", '-1 issue "letsencrypt.org"'), ("@", '0 issue "192.0.2.1"'), ("@", "0"),
        ("@", '0 issue "lets encrypt.org"'), ("@", 'x issue "letsencrypt.org"'),
        ("bad name", '0 issue "letsencrypt.org"'), ("@", '0 iodef "mailto:"'),
        ("@", '0 issue "letsencrypt..org"'), ("@", '0 issue "-le.org"'), ("@", '0 issue "localhost"'),
        ("@", '0 is-sue "letsencrypt.org"'), ("@", '0 issue "le.org" extra'),
        ("@", '0 issuewild "*.example.com"'), ("@", '0 iodef "https://"'), ("@", "0 0 0"),
        ("@", '0 issue "http://letsencrypt.org"'), ("@", '0 issue "le$.org"'),
        ("@", '1.5 issue "letsencrypt.org"'), ("@", '0 issue ""'), ("@", '0 contactemail "a@b.c"'),
        ("@", '0 iodef "javascript:alert(1)"'),
    ],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _ttl(settings):
    settings.DNS_TTL_MIN, settings.DNS_TTL_MAX = 60, 86400


@pytest.mark.parametrize("rtype", sorted(VALID))
def test_each_type_has_at_least_forty_cases(rtype):
    assert len(VALID[rtype]) + len(INVALID[rtype]) >= 40


@pytest.mark.parametrize(
    ("rtype", "name", "content", "expected"),
    [(t, n, c, e) for t, rows in VALID.items() for n, c, e in rows],
)
def test_valid_records_are_normalised(rtype, name, content, expected):
    clean = record_clean(zone=ZONE, name=name, type=rtype, ttl=300, content=content)
    assert clean.content == expected
    assert clean.type == rtype


@pytest.mark.parametrize(
    ("rtype", "name", "content"), [(t, n, c) for t, rows in INVALID.items() for n, c in rows]
)
def test_invalid_records_are_refused_with_a_message(rtype, name, content):
    with pytest.raises(InvalidRecord) as caught:
        record_clean(zone=ZONE, name=name, type=rtype, ttl=300, content=content)
    assert len(caught.value.message) > 10


@pytest.mark.parametrize("ttl", ["59", "86401", "abc", "", "-5", "1.5", "3600s"])
def test_ttl_bounds(ttl):
    with pytest.raises(InvalidRecord, match="TTL"):
        record_clean(zone=ZONE, name="www", type="A", ttl=ttl, content="192.0.2.1")


def test_unknown_types_are_refused():
    with pytest.raises(InvalidRecord, match="not supported"):
        record_clean(zone=ZONE, name="www", type="PTR", ttl=300, content="x.example.")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Example.COM", "example.com"), ("example.com.", "example.com"),
     ("münchen.de", "xn--mnchen-3ya.de"), ("sub.example.co.uk", "sub.example.co.uk"),
     (" shop.example.org ", "shop.example.org")],
)  # fmt: skip
def test_zone_names_are_normalised(raw, expected):
    assert zone_name_normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "com", "co.uk", "github.io", "localhost", "exa mple.com", "-a.com", "a..com",
     "http://example.com", "example.com/x", "a" * 64 + ".com", "例え.テスト" * 40,
     "1.5", "192.0.2.10", "example.123", "a\u202e.com", "a\x00.com"],
)  # fmt: skip
def test_bad_zone_names_and_public_suffixes_are_refused(raw):
    with pytest.raises(InvalidZoneName):
        zone_name_normalize(raw)
