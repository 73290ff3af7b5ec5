"""Where newsmon may connect: the address policy and the network backend that enforces it.

Feed URLs, their redirects and article links are untrusted, so every
connection goes through :class:`SafeBackend`: it resolves the host itself,
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
from httpcore._backends.auto import AutoBackend

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


class SafeBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to checked addresses."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = AutoBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        allowed = [ip for ip in addresses if self.policy.allowed(ip)]
        if not allowed:
            for ip in addresses:
                self.policy.check(ip, host)  # raises with the refused address
            raise AddressRefused(f"refused to connect to {host}: no usable address")
        last: Exception | None = None
        for ip in allowed:
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are never used for feeds")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def safe_pool(policy: AddressPolicy, *, max_connections: int, max_keepalive: int,
              keepalive_expiry: float = 30.0, retries: int = 0,
              ssl_context: Any = None) -> httpcore.AsyncConnectionPool:
    ctx = ssl_context or _default_ssl_context()
    return httpcore.AsyncConnectionPool(
        ssl_context=ctx, max_connections=max_connections,
        max_keepalive_connections=max_keepalive, keepalive_expiry=keepalive_expiry,
        http1=True, http2=False, retries=retries, network_backend=SafeBackend(policy),
    )


@functools.cache
def _default_ssl_context() -> Any:
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def parse_allow_list(values: Sequence[Any], source: str) -> AddressPolicy:
    try:
        return AddressPolicy.from_strings(str(v) for v in values)
    except ValueError as exc:
        raise ValueError(f"{source}: allow_private_addresses: {exc}") from None
