"""Where newsmon may connect: the address policy.

Feed URLs, their redirects and article links are untrusted, so every
connection goes through :mod:`connectors.transport`, which resolves the host
once, checks every address with an :class:`AddressPolicy` and connects only to
an address it checked, so a second DNS answer cannot rebind the connection
elsewhere. TLS still verifies the original host name.

:func:`is_refused` is the one place that decides which addresses are not
public: every IPv4 and IPv6 special-purpose range (IANA registries), every
IPv6 form that embeds or tunnels IPv4 unless the embedded address is itself
public (NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``), and anything outside
IPv6 global unicast ``2000::/3``. The policy's allow-list (e.g. 127.0.0.1/32 for
tests or an intranet deployment) is the only way past it.
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _table(rows: Iterable[tuple[str, str]]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in rows)


_V4_REFUSED = _table([
    ("0.0.0.0/8", "'this network' (unspecified)"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (and broadcast)"),
])

# Checked in order: the first match gives the reason.
_V6_REFUSED = _table([
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("::ffff:0:0:0/96", "IPv4-translated"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo"),
    ("2001:db8::/32", "documentation"),
    ("2001::/23", "IETF protocol assignments"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "SRv6 SIDs"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
])
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_6TO4 = ipaddress.IPv6Network("2002::/16")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def is_refused(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address newsmon may connect to, or None if it is one."""
    if isinstance(ip, ipaddress.IPv4Address):
        for net, reason in _V4_REFUSED:
            if ip in net:
                return reason
        return None if ip.is_global else "not global"
    for net, reason in _V6_REFUSED:
        if ip in net:
            return reason
    inner: ipaddress.IPv4Address | None = None
    if ip in _NAT64:
        inner, form = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    elif ip in _6TO4:
        inner, form = ip.sixtofour, "6to4"
    if inner is not None:
        why = is_refused(inner)
        return f"{form} form of {inner}: {why}" if why else None
    if ip not in _GLOBAL_UNICAST:
        return "outside global unicast 2000::/3"
    return None if ip.is_global else "not global"


class AddressRefused(OSError):
    """A connection target is not allowed by the address policy."""


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Public addresses only, plus the networks in ``allow`` (e.g. 127.0.0.1/32 for tests).

    An IPv4 network in ``allow`` also admits its IPv4-mapped IPv6 form (the same socket).
    """

    allow: tuple[Network, ...] = field(default=())

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def refused(self, ip: IPAddress) -> str | None:
        """Why the policy refuses ``ip``, or None if it may be connected to."""
        plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        for candidate in (ip, plain):
            if candidate is not None and any(
                    candidate in net for net in self.allow if net.version == candidate.version):
                return None
        return is_refused(ip)

    def allowed(self, ip: IPAddress) -> bool:
        return self.refused(ip) is None

    def check(self, ip: IPAddress, host: str) -> None:
        why = self.refused(ip)
        if why is not None:
            raise AddressRefused(f"refused to connect to {host} ({ip}): {why}, not a public "
                                 "address")


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def parse_allow_list(values: Sequence[Any], source: str) -> AddressPolicy:
    try:
        return AddressPolicy.from_strings(str(v) for v in values)
    except ValueError as exc:
        raise ValueError(f"{source}: allow_private_addresses: {exc}") from None
