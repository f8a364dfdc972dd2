"""Per-user token budgets: ``DAILY_TOKEN_LIMIT`` and ``MONTHLY_TOKEN_LIMIT`` (0: none).

A turn asks :meth:`Budget.refusal` before any provider call: a user whose replies already used
the day's (or the month's) tokens gets a refusal saying when the budget resets (UTC midnight,
the first of the next month). Only tokens the endpoints reported count (a reply without usage
adds nothing: counts are never guessed), and a reply is never cut when it passes the limit: it
finishes, and the next turn is refused. ``ADMIN_USER_IDS`` and unknown senders (``None``, e.g.
an anonymous group admin) have no budget. Telegram-free.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.i18n import _, number
from bot.settings import Settings
from bot.storage.usage import UsageStore

__all__ = ["Budget", "period_starts"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def period_starts(now: datetime) -> tuple[datetime, datetime]:
    """The starts of ``now``'s UTC day and UTC month (timezone-aware)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def _next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(
        month=month.month + 1
    )


def _in(delta: timedelta) -> str:
    """"3 h 20 min" (rounded up to the minute)."""
    minutes = max(1, -(-int(delta.total_seconds()) // 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("{hours} h {minutes} min", hours=hours, minutes=minutes)
    return _("{minutes} min", minutes=minutes)


class Budget:
    """The budgets of ``settings`` over ``usage``; ``clock`` returns the aware current time."""

    def __init__(
        self, settings: Settings, usage: UsageStore, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.settings, self.usage, self.clock = settings, usage, clock

    def applies_to(self, user_id: int | None) -> bool:
        """Whether ``user_id`` has a budget (a limit is set and the user is no admin)."""
        limited = self.settings.daily_token_limit or self.settings.monthly_token_limit
        return bool(limited) and user_id is not None and user_id not in self.settings.admin_user_ids

    async def refusal(self, user_id: int | None) -> str | None:
        """What to tell ``user_id`` when over a budget, or None (go on). One indexed query when
        a budget applies, none otherwise; database errors propagate."""
        if user_id is None or not self.applies_to(user_id):
            return None
        now = self.clock()
        day, month = period_starts(now)
        today, this_month = await self.usage.tokens_used(user_id, day, month)
        daily, monthly = self.settings.daily_token_limit, self.settings.monthly_token_limit
        if monthly and this_month >= monthly:
            resets = _next_month(month)
            return _(
                "⛔ You have used your monthly budget of {limit} tokens ({used} used). "
                "It resets on {date} at 00:00 UTC, in {wait}.",
                limit=number(monthly), used=number(this_month),
                date=resets.strftime("%Y-%m-%d"), wait=_in(resets - now),
            )
        if daily and today >= daily:
            return _(
                "⛔ You have used your daily budget of {limit} tokens ({used} used). "
                "It resets at midnight UTC, in {wait}.",
                limit=number(daily), used=number(today), wait=_in(day + timedelta(days=1) - now),
            )
        return None
