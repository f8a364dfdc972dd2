"""The private PostgreSQL fixture: a store on it fails while it is stopped, works again after."""

from __future__ import annotations

import pytest

from bot.storage import Store, is_transient
from tests.storage.private_postgres import PrivatePostgres


async def test_stopped_server_gives_a_transient_error_and_recovers(
    private_postgres: PrivatePostgres,
) -> None:
    store = await Store.open(private_postgres.url)
    try:
        await store.append_user_message(1, "before")
        private_postgres.stop()
        with pytest.raises(Exception) as stopped:
            await store.append_user_message(1, "while stopped")
        assert is_transient(stopped.value), repr(stopped.value)
        private_postgres.start()
        await store.append_user_message(1, "after")
        assert [m.content for m in await store.history(1)] == ["before", "after"]
    finally:
        await store.close()
