"""How a turn ends when it does not complete: the status of a stopped one, the notice of a
shutdown, the error text safe to show a user, and the failed reply recorded and told.

Shared by the text answer (:mod:`bot.text_answer`), the image answer (:mod:`bot.image_answer`)
and the turn orchestration (:mod:`bot.service`).
"""

from __future__ import annotations

import logging

from bot.i18n import N_, _
from bot.storage import ReplyStatus
from bot.stored_reply import StoredReply
from bot.turn_types import DeliveryError, ReplySink, TurnResult
from bot.turns import RunningTurns
from providers import ProviderError

log = logging.getLogger(__name__)

#: Told to a chat whose reply a shutdown cut short (or whose turn came while shutting down).
SHUTDOWN_NOTICE = N_(
    "⚠️ The bot is restarting: this reply was cut short. Send /retry when it is back to get "
    "a complete answer."
)
#: The error of a turn that failed for a reason no one foresaw (logged).
UNEXPECTED = N_("an unexpected error occurred")


def stopped_status(turns: RunningTurns) -> ReplyStatus:
    """The status of a turn whose stop event is set: interrupted by a shutdown, or /stop."""
    return ReplyStatus.INTERRUPTED if turns.interrupting else ReplyStatus.STOPPED


async def fail(
    reply: StoredReply,
    sink: ReplySink,
    notice: str,
    provider: str | None,
    error: str,
    text: str,
    message_ids: list[int],
) -> TurnResult:
    """Record a failed reply (with whatever text was delivered) and tell the user."""
    await reply.update(
        content=text,
        status=ReplyStatus.FAILED,
        provider=provider,
        telegram_message_ids=message_ids,
        error=error,
    )
    await sink.notice(notice)
    return TurnResult(ReplyStatus.FAILED, text, reply.model, provider, message_ids, error)


def user_error(error: BaseException) -> tuple[str, str]:
    """A short text safe to show a user, in English (stored with the failed reply) and in the
    current language (shown): for a provider error its provider's name and short category
    (``ProviderError.user_text``, e.g. "OpenAI: the provider is down (HTTP 500)"), never what
    the provider's server wrote (the registry logs that); for a delivery error, what Telegram
    refused."""
    if isinstance(error, ProviderError):
        name = type(error).__name__
        return error.user_text() or name, error.user_text(_) or name
    if isinstance(error, DeliveryError):
        return str(error) or type(error).__name__, _(error.template, **error.params)
    log.error("unexpected error in a turn", exc_info=error)
    return UNEXPECTED, _(UNEXPECTED)
