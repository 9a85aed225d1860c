"""Outbound addresses the server may call on an operator's say-so (a studio URL import, a webhook).

The server fetches or posts to whatever address it is given, so a host that resolves to a loopback,
private, link-local or otherwise non-public address is refused: the server must not become a way
into its own network. Each caller decides when the check is lifted (DEBUG, or its own setting for
tests against loopback servers)."""

from __future__ import annotations

import ipaddress
import socket


def internal_address(host: str, port: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The first address ``host`` resolves to that is not on the public internet, or None when all are.

    Raises ``socket.gaierror`` (or UnicodeError) when the name cannot be resolved."""
    for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            return address
    return None
