"""Benchmark of the conversation store at size (not a test: it asserts nothing about time).

    python -m benchmarks.storage [--database-url URL] [--chats 10000] [--messages 1000000]
                                 [--samples 1000] [--seed 1]

Fills a freshly migrated database with ``--messages`` messages over ``--chats`` chats (each
chat: an older conversation and the current one; messages of all chats interleaved in id
order, as a long-running bot writes them), through SQLAlchemy Core ``executemany`` in batches.
Then it times, with ``time.perf_counter`` over ``--samples`` random chats, ``Store.context``
(limit 20), ``Store.history`` (limit 50), ``Store.append_user_message``, the bot's turn start
(``Store.turn_context`` and ``Store.record_turn``) and
``Store.update_reply``, and prints p50/p95/max in milliseconds.

Without ``--database-url`` the database is a SQLite file in a temporary directory. With a
``postgresql+asyncpg://`` URL, a scratch database is created next to the URL's (the role needs
CREATEDB) and dropped afterwards; a ``sqlite+aiosqlite:///`` URL must name a file that does not
exist yet. ``--keep`` keeps the database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bot.storage import ReplyStatus, Store, create_engine, upgrade_to_head
from bot.storage.models import Chat, Conversation, Message

BATCH = 10_000
WORDS = (
    "the model streams a reply chunk by chunk while the bot edits one message in the chat"
    " history context provider token limit flood control retry after draft forum topic"
    " привет как дела расскажи о базе данных sqlite postgresql индекс транзакция"
).split()


def text_of(rng: random.Random, characters: int) -> str:
    words: list[str] = []
    length = 0
    while length < characters:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:characters]


def message_rows(
    rng: random.Random, chats: int, messages: int, start: datetime
) -> Iterator[list[dict[str, Any]]]:
    """Batches of message rows: round-robin over the chats in a shuffled order, so that one
    chat's messages are spread over the whole table. Conversation ids: chat i (0-based) owns
    2i+1 (older) and 2i+2 (current); the first half of a chat's messages go to the older one."""
    per_chat, extra = divmod(messages, chats)
    order = list(range(chats))
    rng.shuffle(order)
    texts = [text_of(rng, rng.randint(20, 400)) for _ in range(2000)]
    batch: list[dict[str, Any]] = []
    written = 0
    for turn in range(per_chat + (1 if extra else 0)):
        for chat in order:
            count = per_chat + (1 if chat < extra else 0)
            if turn >= count:
                continue
            conversation = 2 * chat + (1 if turn < count // 2 else 2)
            user = turn % 2 == 0
            batch.append(
                {
                    "conversation_id": conversation,
                    "role": "user" if user else "assistant",
                    "content": rng.choice(texts),
                    "model": None if user else "gpt-4o",
                    "provider": None if user else "AiAsk",
                    "telegram_message_ids": [written + 1],
                    "image_file_id": None,
                    "image_url": None,
                    "status": ReplyStatus.COMPLETE.value,
                    "error": None,
                    "created_at": start + timedelta(milliseconds=written),
                }
            )
            written += 1
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


async def fill(url: str, chats: int, messages: int, seed: int) -> float:
    """Insert the chats, conversations and messages; returns the seconds it took."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    engine = create_engine(url)
    began = time.perf_counter()
    try:
        async with engine.begin() as connection:
            await insert_rows(connection, Chat, chat_rows(chats, start))
            await insert_rows(connection, Conversation, conversation_rows(chats, start))
        for batch in message_rows(rng, chats, messages, start):
            async with engine.begin() as connection:
                await connection.execute(insert(Message), batch)
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                # What autovacuum does on a live server: planner statistics.
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - began


def chat_rows(chats: int, start: datetime) -> list[dict[str, Any]]:
    return [
        {"id": chat + 1, "type": "private", "model": None, "settings": {}, "created_at": start}
        for chat in range(chats)
    ]


def conversation_rows(chats: int, start: datetime) -> list[dict[str, Any]]:
    return [
        {"id": 2 * chat + number, "chat_id": chat + 1, "thread_id": 0, "created_at": start}
        for chat in range(chats)
        for number in (1, 2)
    ]


async def insert_rows(connection: AsyncConnection, model: Any, rows: list[dict[str, Any]]) -> None:
    for offset in range(0, len(rows), BATCH):
        await connection.execute(insert(model.__table__), rows[offset : offset + BATCH])
    if connection.dialect.name == "postgresql" and model is Conversation:
        # Explicit ids were given: move the sequence past them.
        await connection.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('conversations', 'id'),"
                " (SELECT max(id) FROM conversations))"
            )
        )


async def measure(calls: Sequence[Callable[[], Awaitable[object]]]) -> list[float]:
    """Milliseconds each call took, awaited one after another."""
    timings = []
    for call in calls:
        began = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - began) * 1000)
    return timings


async def run_measurements(url: str, chats: int, samples: int, seed: int) -> dict[str, list[float]]:
    """Time the store's hot paths on random chats (arguments prepared outside the timing)."""
    rng = random.Random(seed + 1)
    picks = [rng.randint(1, chats) for _ in range(samples)]
    texts = [text_of(rng, rng.randint(20, 400)) for _ in range(samples)]
    store = await Store.open(url, migrate=False)
    try:
        for chat in range(1, 51):  # warm the pool and the statement caches
            await store.context(chat)
        context = [partial(store.context, chat, limit=20) for chat in picks]
        history = [partial(store.history, chat, limit=50) for chat in reversed(picks)]
        append = [
            partial(store.append_user_message, c, t) for c, t in zip(picks, texts, strict=True)
        ]
        replies = [await store.start_reply(chat, model="gpt-4o") for chat in picks]
        update = [
            partial(store.update_reply, r.id, content=t)
            for r, t in zip(replies, texts, strict=True)
        ]
        # What the bot does to start a turn: read the chat and context (the new message
        # pending), then record the message with the empty reply.
        turn_context = [
            partial(store.turn_context, c, pending=t) for c, t in zip(picks, texts, strict=True)
        ]
        record_turn = [
            partial(store.record_turn, c, user_message=t, model="gpt-4o")
            for c, t in zip(picks, texts, strict=True)
        ]
        return {
            "context (limit 20)": await measure(context),
            "history (limit 50)": await measure(history),
            "append_user_message": await measure(append),
            "update_reply (content)": await measure(update),
            "turn_context (bot)": await measure(turn_context),
            "record_turn (bot)": await measure(record_turn),
        }
    finally:
        await store.close()


async def database_size(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                size = Path(make_url(url).database or "").stat().st_size
            else:
                query = text("SELECT pg_database_size(current_database())")
                size = (await connection.execute(query)).scalar_one()
    finally:
        await engine.dispose()
    return f"{size / 2**20:,.0f} MiB"


def report(results: dict[str, list[float]]) -> str:
    lines = [f"{'operation':<24} {'samples':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"]
    for name, timings in results.items():
        cuts = statistics.quantiles(timings, n=100, method="inclusive")
        lines.append(
            f"{name:<24} {len(timings):>7} {cuts[49]:>8.3f} {cuts[94]:>8.3f} {max(timings):>8.3f}"
        )
    return "\n".join(lines)


async def admin(server_url: str, statement: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def main_async(args: argparse.Namespace) -> None:
    given = args.database_url
    scratch: str | None = None
    if given is None:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='storage-bench-')) / 'bench.db'}"
    elif make_url(given).get_backend_name() == "postgresql":
        scratch = f"storage_bench_{uuid.uuid4().hex[:8]}"
        await admin(given, f'CREATE DATABASE "{scratch}"')
        url = make_url(given).set(database=scratch).render_as_string(hide_password=False)
    else:
        path = Path(make_url(given).database or "")
        if path.exists():
            raise SystemExit(f"{path} exists: give a new file (the benchmark fills it)")
        url = given
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        await upgrade_to_head(url)
        print(f"database: {shown}")
        seconds = await fill(url, args.chats, args.messages, args.seed)
        print(
            f"fill: {args.messages:,} messages over {args.chats:,} chats in {seconds:.1f} s"
            f" ({args.messages / seconds:,.0f} messages/s); size {await database_size(url)}"
        )
        results = await run_measurements(url, args.chats, args.samples, args.seed)
        print(report(results))
    finally:
        if scratch is not None and not args.keep:
            await admin(given, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        elif scratch is None and given is None and not args.keep:
            folder = Path(make_url(url).database or "").parent
            for file in folder.glob("bench.db*"):
                file.unlink()
            folder.rmdir()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage", description=__doc__)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the filled database")
    args = parser.parse_args(argv)
    if args.chats < 1 or args.messages < 0 or args.samples < 2:
        parser.error("--chats >= 1, --messages >= 0 and --samples >= 2 are needed")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
