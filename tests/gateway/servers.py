"""Real servers on 127.0.0.1 for the gateway's integration tests.

The implementation is the shipped test harness ``gateway.testing.servers``; this module
re-exports it so existing ``from tests.gateway.servers import ...`` lines keep working.
"""

from __future__ import annotations

from gateway.testing.servers import (
    KEEP_ALIVE_S,
    GatewayServer,
    UpstreamServer,
    isolated_settings,
    loopback_socket,
)

__all__ = ["KEEP_ALIVE_S", "GatewayServer", "UpstreamServer", "isolated_settings", "loopback_socket"]
