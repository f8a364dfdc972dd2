"""The storage work of text turns, in CPU milliseconds per turn (``python -m
benchmarks.storage_turn [--turns N] [--chats K]``).

Each turn does what a text turn does to the database (SQLite file, schema from the migrations):
store its update in the inbox, read the chat and its context, record the user message and the
empty reply, save a partial text, save the final text, mark the update handled. ``--chats``
turns run at once (as the lock-step streaming benchmark's chats), batch after batch. The number
is the process's CPU time (every thread: the SQLite driver runs in its own) over the measured
turns, after 50 turns of warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from bot.storage import Inbox, InboxEntry, ReplyStatus, Store, upgrade_in_subprocess


async def run(turns: int, chats: int) -> float:
    """CPU milliseconds per turn over ``turns`` turns, ``chats`` at once."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade_in_subprocess(url)
        store = await Store.open(url, migrate=False)
        inbox = Inbox(store)

        async def turn(update_id: int) -> None:
            chat = 1000 + update_id % chats
            payload = {"update_id": update_id, "message": {"text": "hello"}}
            await inbox.put([InboxEntry(update_id, payload, chat, update_id)])
            await store.turn_context(chat, pending="hello")
            reply = await store.record_turn(
                chat, user_message="hello", telegram_message_id=update_id, model="m"
            )
            await store.update_reply(reply.id, content="x" * 700, telegram_message_ids=[1])
            await store.update_reply(
                reply.id, content="x" * 1500, status=ReplyStatus.COMPLETE, model="m"
            )
            await inbox.mark_handled(update_id)

        try:
            for update_id in range(50):
                await turn(update_id)
            batches = max(1, turns // chats)
            started = time.process_time()
            for batch in range(batches):
                first = 50 + batch * chats
                await asyncio.gather(*(turn(first + i) for i in range(chats)))
            return (time.process_time() - started) / (batches * chats) * 1000
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=1000, help="turns measured")
    parser.add_argument("--chats", type=int, default=20, help="turns at once")
    args = parser.parse_args()
    per_turn = asyncio.run(run(args.turns, args.chats))
    print(f"{args.turns} turns, {args.chats} at once: {per_turn:.2f} ms CPU per turn")


if __name__ == "__main__":
    main()
