"""The application's two Bot API clients (methods; getUpdates) share one TLS context, the one
aiohttp (the providers' client) made: the CA store is loaded once for all three."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp.connector

from bot.app import CONNECTION_POOL_SIZE, KEEPALIVE_CONNECTIONS, build_application
from bot.health import Heartbeat, HeartbeatRequest
from bot.storage import Store
from providers import ModelRegistry
from tests.fakes.telegram import FakeTelegram

from .conftest import make_settings


def _tls_context(request: object) -> ssl.SSLContext:
    return request._client._transport._pool._ssl_context  # type: ignore[attr-defined]


async def test_both_clients_share_one_tls_context(telegram: FakeTelegram, tmp_path: Path) -> None:
    settings = make_settings(telegram, tmp_path / "bot.db")
    store = await Store.open(settings.database_url)
    try:
        for heartbeat in (None, Heartbeat(tmp_path / "heartbeat")):
            application = build_application(
                settings, store, ModelRegistry([]), heartbeat
            )
            get_updates, methods = application.bot._request  # PTB: (getUpdates, the rest)
            assert _tls_context(get_updates) is _tls_context(methods)
            # aiohttp's own verifying context: if aiohttp stops making one, this says so.
            assert _tls_context(methods) is aiohttp.connector._SSL_CONTEXT_VERIFIED
            assert _tls_context(methods).verify_mode == ssl.CERT_REQUIRED
            assert _tls_context(methods).check_hostname
            assert isinstance(get_updates, HeartbeatRequest) == (heartbeat is not None)
            assert get_updates._client._transport._pool._max_connections == 1
            assert methods._client._transport._pool._max_connections == CONNECTION_POOL_SIZE
            pool = methods._client._transport._pool
            assert pool._max_keepalive_connections == KEEPALIVE_CONNECTIONS
    finally:
        await store.close()
