"""The inbox: updates stored before they count as taken, pending until handled."""

from __future__ import annotations

from datetime import timedelta

from bot.storage import Inbox, InboxEntry, Store

CHAT = 42


def entry(update_id: int, message_id: int | None = None) -> InboxEntry:
    payload = {"update_id": update_id, "message": {"message_id": message_id, "text": "hi"}}
    return InboxEntry(update_id, payload, None if message_id is None else CHAT, message_id)


async def test_put_stores_a_batch_and_skips_updates_sent_again(store: Store) -> None:
    inbox = Inbox(store)

    assert await inbox.put([entry(1, 10), entry(2, 11)]) == [1, 2]
    # Telegram sends 2 again (its offset was not confirmed before a crash) with a new one.
    assert await inbox.put([entry(2, 11), entry(3, 12)]) == [3]
    assert await inbox.put([]) == []

    pending = await inbox.take_pending()
    assert [e.update_id for e in pending] == [1, 2, 3]
    assert pending[0].payload == entry(1, 10).payload
    assert (pending[0].chat_id, pending[0].message_id) == (CHAT, 10)


async def test_handled_updates_are_no_longer_pending(store: Store) -> None:
    inbox = Inbox(store)
    await inbox.put([entry(1, 10), entry(2), entry(3, 12)])

    await inbox.mark_handled(2)
    await inbox.mark_handled(99)  # unknown: nothing happens

    assert [e.update_id for e in await inbox.take_pending()] == [1, 3]


async def test_pending_update_whose_message_is_stored_is_not_handled_again(store: Store) -> None:
    """The turn of update 1 was recorded before a crash (its reply is told "interrupted"):
    only update 2, fetched but never stored as a message, is taken again."""
    inbox = Inbox(store)
    await inbox.put([entry(1, 10), entry(2, 11)])
    await store.record_turn(CHAT, user_message="hi", telegram_message_id=10, model="m")

    assert [e.update_id for e in await inbox.take_pending()] == [2]
    assert [e.update_id for e in await inbox.take_pending()] == [2]  # 1 is marked handled


async def test_prune_deletes_only_old_handled_updates(store: Store) -> None:
    inbox = Inbox(store)
    await inbox.put([entry(1, 10), entry(2, 11)])
    await inbox.mark_handled(1)

    assert await inbox.prune(timedelta(days=1)) == 0  # handled, but received just now
    assert await inbox.prune(timedelta(seconds=-1)) == 1  # handled and "old": only 1
    assert [e.update_id for e in await inbox.take_pending()] == [2]
    # Deleted, so a copy sent again would be stored anew: prune only past Telegram's 24 hours.
    assert await inbox.put([entry(1, 10)]) == [1]
