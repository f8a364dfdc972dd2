"""Usage figures: the tokens and cost of the replies of a user or a chat since a time.

Read-only queries over the ``usage`` table (rows are written with a reply's final state, see
``Store.update_reply``). Each is one statement on an index: (user_id, created_at) or
(chat_id, created_at); the top users of all chats scan the period's rows (an admin's command).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .models import ReplyUsage


@dataclass(frozen=True)
class UsageTotals:
    """The replies of a period: how many, how many of them came without token counts
    (``unknown``), the tokens reported (``prompt_tokens``, ``completion_tokens``) and the cost
    reported (``None``: no reply of the period reported one)."""

    replies: int = 0
    unknown: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    @property
    def tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class UserTotals:
    """One user's totals of a period (for the top users)."""

    user_id: int
    totals: UsageTotals


def _tokens() -> ColumnElement[int]:
    prompt, completion = ReplyUsage.prompt_tokens, ReplyUsage.completion_tokens
    return func.coalesce(prompt, 0) + func.coalesce(completion, 0)


def _aggregates(within: ColumnElement[bool] | None = None) -> list[ColumnElement[Any]]:
    """replies, unknown, prompt, completion, cost: over the rows (or those ``within``)."""

    def only(value: Any, otherwise: Any = None) -> Any:
        return value if within is None else case((within, value), else_=otherwise)

    unknown = ReplyUsage.prompt_tokens.is_(None)
    return [
        func.coalesce(func.sum(only(1, 0)), 0),
        func.coalesce(func.sum(only(case((unknown, 1), else_=0), 0)), 0),
        func.coalesce(func.sum(only(ReplyUsage.prompt_tokens)), 0),
        func.coalesce(func.sum(only(ReplyUsage.completion_tokens)), 0),
        func.sum(only(ReplyUsage.cost)),
    ]


def _totals(row: Any) -> UsageTotals:
    replies, unknown, prompt, completion, cost = row
    spent = None if cost is None else float(cost)
    return UsageTotals(int(replies), int(unknown), int(prompt), int(completion), spent)


class UsageStore:
    """The usage figures of one database (``engine``: the store's). Times are timezone-aware;
    a period is ``[since, now)``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def tokens_used(self, user_id: int, day: datetime, month: datetime) -> tuple[int, int]:
        """The tokens ``user_id``'s replies used since ``day`` and since ``month`` (not after
        ``day``): one query on (user_id, created_at). Replies without counts add 0."""
        since_day = case((ReplyUsage.created_at >= day, _tokens()), else_=0)
        statement = select(
            func.coalesce(func.sum(since_day), 0), func.coalesce(func.sum(_tokens()), 0)
        ).where(ReplyUsage.user_id == user_id, ReplyUsage.created_at >= month)
        async with self._sessions() as session:
            today, period = (await session.execute(statement)).one()
        return int(today), int(period)

    async def totals(
        self, day: datetime, month: datetime, *, user_id: int | None = None,
        chat_id: int | None = None,
    ) -> tuple[UsageTotals, UsageTotals]:
        """A user's (``user_id``) or a chat's (``chat_id``) totals since ``day`` and since
        ``month`` (not after ``day``); raises ValueError unless exactly one of the two is given."""
        if (user_id is None) == (chat_id is None):
            raise ValueError("give exactly one of user_id and chat_id")
        who = ReplyUsage.user_id == user_id if chat_id is None else ReplyUsage.chat_id == chat_id
        statement = select(
            *_aggregates(ReplyUsage.created_at >= day), *_aggregates()
        ).where(who, ReplyUsage.created_at >= month)
        async with self._sessions() as session:
            row = (await session.execute(statement)).one()
        return _totals(row[:5]), _totals(row[5:])

    async def top_users(
        self, since: datetime, *, chat_id: int | None = None, limit: int = 5
    ) -> list[UserTotals]:
        """The ``limit`` users whose replies used the most tokens since ``since`` (in the chat
        ``chat_id``, or in every chat), most first; replies of unknown users are left out."""
        conditions = [ReplyUsage.created_at >= since, ReplyUsage.user_id.is_not(None)]
        if chat_id is not None:
            conditions.append(ReplyUsage.chat_id == chat_id)
        statement = (
            select(ReplyUsage.user_id, *_aggregates())
            .where(*conditions)
            .group_by(ReplyUsage.user_id)
            .order_by(func.sum(_tokens()).desc(), ReplyUsage.user_id)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(statement)).all()
        return [UserTotals(int(row[0]), _totals(row[1:])) for row in rows]
