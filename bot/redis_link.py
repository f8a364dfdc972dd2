"""The Redis client of the processes that share a flood budget and ``/stop`` signals
(``FLOOD_BACKEND=redis``, ``STOP_BACKEND=redis``)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

__all__ = ["MAX_CONNECTIONS", "TIMEOUT", "connect"]

#: Connections one process opens at most; more concurrent calls wait for a free one (Redis
#: answers in well under a millisecond, so a few connections serve hundreds of chats).
MAX_CONNECTIONS = 16
#: Seconds to connect to Redis, and to wait for one answer, before the call fails (the callers
#: then go on without Redis: see bot.shared_flood and bot.stop_signals).
TIMEOUT = 2.0


def connect(url: str) -> Redis:
    """An asyncio client of the Redis server at ``url`` (``redis://host:6379/0``); it connects at
    its first command. Raises ``ValueError`` for a URL that is not ``redis://``, ``rediss://`` or
    ``unix://``."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=None,
        socket_connect_timeout=TIMEOUT,
        socket_timeout=TIMEOUT,
    )
    return Redis(connection_pool=pool)
