"""Loopback network helpers."""

import socket


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dead_proxy(workspace):
    """A proxy of ``workspace`` on a port nothing listens on: every call through it fails."""
    from ..factories import ProxyFactory

    port = unused_port()
    return ProxyFactory(workspace=workspace, host="127.0.0.1", port=port, url=f"http://u:p@127.0.0.1:{port}")
