"""Where newsmon may connect: the address policy and the network backend that enforces it.

Feed URLs, their redirects and article links are untrusted, so every
connection goes through :mod:`connectors.http11`'s transport: it resolves the host itself,
refuses any address that is not public (loopback, private, link-local and
cloud metadata, CGNAT, multicast, unspecified, reserved, and the IPv4-mapped,
NAT64 and 6to4 forms of those) unless the allow-list permits it, and then
connects to the very address it checked, so a second DNS answer cannot
rebind the connection elsewhere. TLS still verifies the original host name.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_6TO4 = ipaddress.ip_network("2002::/16")


class AddressRefused(OSError):
    """A connection target is not allowed by the address policy."""


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _6TO4:
        return ip.sixtofour
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Public addresses only, plus the networks in ``allow`` (e.g. 127.0.0.1/32 for tests)."""

    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def allowed(self, ip: IPAddress) -> bool:
        if any(ip in net for net in self.allow if net.version == ip.version):
            return True
        inner = _embedded_v4(ip)
        if inner is not None:
            return self.allowed(inner)
        return ip.is_global and not ip.is_multicast

    def check(self, ip: IPAddress, host: str) -> None:
        if not self.allowed(ip):
            raise AddressRefused(f"refused to connect to {host} ({ip}): not a public address")


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in out:
            out.append(ip)
    return out


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def parse_allow_list(values: Sequence[Any], source: str) -> AddressPolicy:
    try:
        return AddressPolicy.from_strings(str(v) for v in values)
    except ValueError as exc:
        raise ValueError(f"{source}: allow_private_addresses: {exc}") from None
