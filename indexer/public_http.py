"""An httpx client that only reaches public addresses: the cover fetcher's guard against SSRF.

A catalog's ``album_url`` is hostile input: pointed at 127.0.0.1, a private network or the
cloud metadata service (169.254.169.254), the indexer would fetch an internal resource, cache
it and the API would serve it publicly. So every connection is checked where it is made: the
host is resolved once, every resolved address must be public (not loopback, private, link-local,
multicast, unspecified or reserved, IPv4-mapped forms included), and the socket is opened to the
checked address itself, so a DNS answer cannot change between the check and the connection.
The caller follows redirects itself, one `check_url` per hop, so every hop passes both checks.

Written by hand because httpx exposes no hook on the resolved address; the one seam used is
httpcore's documented `NetworkBackend`, installed in the transport's connection pool.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import httpx

__all__ = ["BlockedURLError", "IPNetwork", "check_url", "public_client"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedURLError(Exception):
    """The URL or an address it resolves to may not be fetched.

    One message for every reason once a host is involved (private address, userinfo), so the
    rejects of a catalog cannot be used to map which internal hosts and ports answer.
    """

    def __init__(self, url: httpx.URL | str) -> None:
        if isinstance(url, httpx.URL):  # never repeat credentials in a message
            url = str(url.copy_with(username=None, password=None))
        super().__init__(f"refused: {url} is not a public http(s) address")


def check_url(url: httpx.URL) -> None:
    """Refuse what no check of addresses can make safe: other schemes, ``user:pass@`` (a way
    to smuggle credentials to a host and to confuse URL parsers), a missing host."""
    if url.scheme not in ("http", "https"):
        raise ValueError(f"invalid URL (scheme {url.scheme or 'missing'!r} is not http or https)")
    if not url.host:
        raise ValueError("invalid URL (no host)")
    if url.userinfo:
        raise BlockedURLError(url)


def public_client(
    *,
    allowed_networks: Iterable[IPNetwork] = (),
    timeout: float,
    max_connections: int,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An httpx client whose every connection goes to a public address or to one of
    ``allowed_networks`` (tests and private mirrors only). It never follows redirects itself
    and ignores proxy variables (a proxy would connect for us, unchecked)."""
    backend = _GuardedBackend(tuple(allowed_networks))
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(  # the seam: the documented network backend
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        network_backend=backend,
    )
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers=headers,
    )


def is_allowed(address: IPAddress, allowed_networks: Sequence[IPNetwork] = ()) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allowed_networks):
        return True
    return address.is_global and not (address.is_multicast or address.is_reserved)


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allowed_networks: Sequence[IPNetwork]) -> None:
        self._allowed = allowed_networks
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
        # Every address must pass: a host resolving to one public and one private address is
        # refused, so round-robin DNS cannot steer a retry inside.
        if not parsed or not all(is_allowed(a, self._allowed) for a in parsed):
            raise BlockedURLError(f"{host}:{port}")
        error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise BlockedURLError(path)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
