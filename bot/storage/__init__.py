"""The conversation store: chats, conversations (per forum topic) and messages.

SQLAlchemy 2 async models behind one repository, ``Store``, that speaks in frozen dataclasses
(``ChatRecord``, ``MessageRecord``) and never imports Telegram. ``DATABASE_URL`` picks the
database: ``sqlite+aiosqlite:///data/bot.db`` by default, or ``postgresql+asyncpg://...``.
The schema is kept by Alembic (``migrations/``): ``Store.open`` upgrades to head, and
``python -m bot.storage upgrade`` does it alone.
"""

from .engine import create_engine, database_url_from_env, default_database_url
from .inbox import Inbox
from .records import ChatRecord, InboxEntry, MessageRecord, ReplyStatus
from .retry import is_transient, retrying
from .schema import SchemaUpgradeError, upgrade_in_subprocess, upgrade_to_head
from .store import Store

__all__ = [
    "ChatRecord",
    "Inbox",
    "InboxEntry",
    "MessageRecord",
    "ReplyStatus",
    "SchemaUpgradeError",
    "Store",
    "create_engine",
    "database_url_from_env",
    "default_database_url",
    "is_transient",
    "retrying",
    "upgrade_in_subprocess",
    "upgrade_to_head",
]
