"""Helpers of the migration tests: the columns a table has, and rows written with plain SQL
(as an older schema's code wrote them)."""

from __future__ import annotations

from sqlalchemy import inspect, text

from bot.storage import create_engine


async def columns(url: str, table: str = "messages") -> set[str]:
    """The names of ``table``'s columns in the database at ``url``."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {column["name"] for column in inspect(sync).get_columns(table)}
            )
    finally:
        await engine.dispose()


async def old_chat(url: str, chat_id: int, *messages: tuple[str, str]) -> None:
    """A private chat ``chat_id`` with one conversation holding ``messages`` ((role, content),
    complete), written with plain SQL: the columns every revision since 0001 has."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO chats (id, type, settings, created_at) "
                "VALUES (:id, 'private', '{}', CURRENT_TIMESTAMP)"), {"id": chat_id})
            await connection.execute(text(
                "INSERT INTO conversations (chat_id, thread_id, created_at) "
                "VALUES (:id, 0, CURRENT_TIMESTAMP)"), {"id": chat_id})
            for role, content in messages:
                await connection.execute(text(
                    "INSERT INTO messages (conversation_id, role, content, telegram_message_ids, "
                    "status, created_at) SELECT id, :role, :content, '[]', 'complete', "
                    "CURRENT_TIMESTAMP FROM conversations WHERE chat_id = :id"),
                    {"id": chat_id, "role": role, "content": content})
    finally:
        await engine.dispose()
