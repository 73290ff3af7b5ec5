"""The address policy, one row per range: what is refused (and why) and what is allowed."""

from __future__ import annotations

import ipaddress

import pytest

from connectors.safety import AddressPolicy, AddressRefused, is_refused

# (address, a word the reason must contain, or None when the address is public)
TABLE: list[tuple[str, str | None]] = [
    # IPv4, public
    ("8.8.8.8", None),
    ("1.1.1.1", None),
    ("93.184.216.34", None),
    ("100.63.255.255", None),   # just below CGNAT
    ("100.128.0.0", None),      # just above CGNAT
    ("172.32.0.1", None),       # just above 172.16/12
    ("223.255.255.254", None),
    # IPv4, refused
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.1.2.3", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.100.100.200", "CGNAT"),  # a cloud metadata service
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "metadata"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.170", "IETF"),
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    # IPv6, public
    ("2606:4700:4700::1111", None),
    ("2a00:1450:4001:80b::200e", None),
    ("2001:4860:4860::8888", None),       # outside 2001::/23
    ("64:ff9b::808:808", None),           # NAT64 form of 8.8.8.8
    ("2002:808:808::1", None),            # 6to4 form of 8.8.8.8
    # IPv6, refused
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::a9fe:a9fe", "IPv4-compatible"),   # ::169.254.169.254
    ("::8.8.8.8", "IPv4-compatible"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:169.254.169.254", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("::ffff:0:7f00:1", "IPv4-translated"),
    ("::ffff:0:a9fe:a9fe", "IPv4-translated"),
    ("::1:2:3:4", "outside global unicast"),
    ("64:ff9b::7f00:1", "NAT64 form of 127.0.0.1: loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"),
    ("64:ff9b::a01:203", "NAT64 form of 10.1.2.3: private"),
    ("64:ff9b:1::a01:203", "local-use NAT64"),
    ("64:ff9b:1::808:808", "local-use NAT64"),
    ("100::1", "discard"),
    ("2001::1", "Teredo"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:2::1", "IETF"),
    ("2001:db8::1", "documentation"),
    ("2002:7f00:1::1", "6to4 form of 127.0.0.1: loopback"),
    ("2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254"),
    ("2002:c0a8:101::1", "6to4 form of 192.168.1.1: private"),
    ("3fff::1", "documentation"),
    ("5f00::1", "SRv6"),
    ("fc00::1", "unique local"),
    ("fd00:ec2::254", "unique local"),   # a cloud metadata service
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("feff::1", "site-local"),
    ("ff02::1", "multicast"),
    ("4000::1", "outside global unicast"),
    ("e000::1", "outside global unicast"),
]


@pytest.mark.parametrize("text, reason", TABLE, ids=[row[0] for row in TABLE])
def test_every_range(text: str, reason: str | None) -> None:
    ip = ipaddress.ip_address(text)
    got = is_refused(ip)
    if reason is None:
        assert got is None
        AddressPolicy().check(ip, "example.com")
    else:
        assert got is not None and reason in got, got
        with pytest.raises(AddressRefused, match=rf"\({ip}\): .*not a public address"):
            AddressPolicy().check(ip, "example.com")


def test_the_allow_list_admits_its_networks_and_their_mapped_form_only() -> None:
    policy = AddressPolicy.from_strings(["127.0.0.1/32", "fd00::/8"])
    for allowed in ("127.0.0.1", "::ffff:127.0.0.1", "fd12::1", "8.8.8.8"):
        assert policy.allowed(ipaddress.ip_address(allowed)), allowed
    for refused in ("127.0.0.2", "::ffff:127.0.0.2", "::127.0.0.1", "64:ff9b::7f00:1",
                    "2002:7f00:1::1", "10.0.0.1", "fc00::1"):
        assert not policy.allowed(ipaddress.ip_address(refused)), refused
