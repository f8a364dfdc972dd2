"""Who may do what: refusals to users not on the allow-list, and who moderates a group.

* A user not on ``ALLOWED_USER_IDS`` gets one refusal per ``REFUSAL_INTERVAL`` seconds
  (:class:`RefusalLimiter`); the messages in between are ignored, so a flood from outside costs
  no write and none of the bot's flood budget.
* In a group, ``/forget`` and ``/stop`` of someone else's reply are for the group's
  administrators (Bot API getChatMember: status ``creator`` or ``administrator``) and the
  bot's ``ADMIN_USER_IDS`` (:func:`is_moderator`). In a private chat its one user moderates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cachetools import TTLCache
from telegram import Bot, Chat
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.settings import Settings

__all__ = ["MODERATOR_STATUSES", "RefusalLimiter", "is_moderator"]

log = logging.getLogger(__name__)

#: getChatMember statuses of a group's administrators.
MODERATOR_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})


class RefusalLimiter:
    """At most one refusal per user per ``interval`` seconds.

    Remembers up to ``max_users`` users (the longest-remembered are forgotten first, and may get
    a refusal early); ``timer`` returns seconds (``time.monotonic`` by default).
    """

    def __init__(
        self,
        interval: float,
        *,
        max_users: int = 100_000,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._refused: TTLCache[int | None, bool] | None = (
            TTLCache(maxsize=max_users, ttl=interval, timer=timer) if interval > 0 else None
        )

    def should_refuse(self, user_id: int | None) -> bool:
        """True if ``user_id`` is to get a refusal now (and is then not refused again for
        ``interval`` seconds); False: ignore the message."""
        if self._refused is None:
            return True
        if user_id in self._refused:
            return False
        self._refused[user_id] = True
        return True


async def is_moderator(bot: Bot, chat: Chat, user_id: int | None, settings: Settings) -> bool:
    """Whether ``user_id`` may act for everyone in ``chat``: its user in a private chat, an
    ``ADMIN_USER_IDS`` user, or a group administrator (one getChatMember call). A failed
    getChatMember counts as "no" (logged)."""
    if chat.type == ChatType.PRIVATE:
        return True
    if user_id is None:
        return False
    if user_id in settings.admin_user_ids:
        return True
    try:
        member = await bot.get_chat_member(chat.id, user_id)
    except TelegramError as error:
        log.warning("getChatMember(%s, %s) failed: %s", chat.id, user_id, error)
        return False
    return member.status in MODERATOR_STATUSES
