"""Start-up and shutdown of the running bot: waiting for Telegram, and leaving within a deadline.

Start-up (:func:`connect`): the first Bot API call (``getMe``, in ``Application.initialize``)
is retried with exponential backoff and jitter (tenacity's ``wait_exponential_jitter``: 1 s,
2 s, 4 s ... at most 30 s apart, ``retry_after`` honoured) for as long as Telegram is
unreachable or answers with a server error, until it answers or the bot is told to stop. A
token the Bot API rejects (401 Unauthorized) and a wrong ``TELEGRAM_API_BASE_URL`` path
(404 Not Found) are not retried: nothing changes until a person fixes the setting, so the
start-up ends with one :class:`StartupError` line (no token in it). A command menu Telegram
does not take (:func:`set_command_menu`) is only logged.

Shutdown (:func:`shut_down`): no new updates are taken; replies being written get the grace
period (``SHUTDOWN_GRACE`` seconds) to finish; then each is cut where it is (its text so far
stays, with a short note; it is stored as interrupted, so ``/retry`` answers it after the
restart), within :data:`LANDING_TIMEOUT` seconds; what is still running then is cancelled
(its reply is marked interrupted at the next start).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, BotCommand
from telegram.error import (
    BadRequest,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential_jitter,
)

from bot.flood import FloodBudget, FloodControl
from bot.flood_limiter import retry_after_seconds
from bot.i18n import _, available_languages, using_language
from bot.racing import race
from bot.settings import Settings
from bot.stop_signals import LocalStopSignals, StopSignals
from bot.turns import RunningTurns

log = logging.getLogger(__name__)

#: Seconds the replies cut short at shutdown get to land their text and be stored.
LANDING_TIMEOUT = 2.0
#: Seconds the turns cancelled at shutdown get to unwind.
CANCEL_TIMEOUT = 1.0

_backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)


class StartupError(RuntimeError):
    """Start-up cannot go on and retrying will not help; the message is one line, no token."""


def _transient(error: BaseException) -> bool:
    """Telegram unreachable, timing out, answering 5xx or 429: a later attempt may succeed."""
    return isinstance(error, RetryAfter | NetworkError) and not isinstance(error, BadRequest)


def _wait(state: RetryCallState) -> float:
    """Seconds before the next attempt: ``retry_after`` for a 429, else the backoff."""
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, RetryAfter):
        return retry_after_seconds(error)
    return float(_backoff(state))


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning(
        "Telegram's Bot API did not answer (%s: %s); attempt %d in %.1f s",
        type(error).__name__, error, state.attempt_number + 1, wait,
    )


def describe_rejection(error: InvalidToken, base_url: str) -> str:
    """One line for a token or URL the Bot API rejected (PTB's message holds the token)."""
    answer = str(error.__cause__ or "").strip() or "Unauthorized"
    if "not found" in answer.lower():
        return (
            f"Start-up error: the Bot API answered 404 Not Found to getMe: "
            f"TELEGRAM_API_BASE_URL ({base_url}) or TELEGRAM_BOT_TOKEN is wrong (not retried)"
        )
    return (
        f"Start-up error: the Bot API rejected TELEGRAM_BOT_TOKEN ({answer}): the token is "
        "wrong or was revoked; get the current one from @BotFather (not retried)"
    )


async def connect(application: Application, stop: asyncio.Event, base_url: str) -> bool:
    """Initialize ``application`` (its first Bot API call, getMe), retrying until Telegram
    answers. Returns False when ``stop`` was set first (nothing is initialized then).

    Raises :class:`StartupError` when the token or the URL is rejected (401, 404).
    """

    async def attempts() -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_transient),
            wait=_wait,
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await application.initialize()

    try:
        return await race(attempts(), stop)
    except InvalidToken as error:
        raise StartupError(describe_rejection(error, base_url)) from None


async def set_command_menu(
    bot: Bot, commands: Sequence[BotCommand], default_language: str
) -> bool:
    """Register the command menu in every language the bot speaks (``setMyCommands`` with its
    ``language_code``, so Telegram shows each user the menu in their language) and, without a
    ``language_code``, in ``default_language`` for everyone else. ``commands`` hold English
    descriptions (msgids), translated here. A failure is logged (one line), never raised.
    True if every menu was set."""
    menus: list[str | None] = [*available_languages(), None]
    for language in menus:
        with using_language(language or default_language):
            translated = [BotCommand(c.command, _(c.description)) for c in commands]
        try:
            await bot.set_my_commands(translated, language_code=language)
        except TelegramError as error:
            log.warning("Telegram did not take the command menu (%s, language %s); going on "
                        "without it", error, language or "default")
            return False
    return True


async def shut_down(
    turns: RunningTurns, grace: float, stop_receiving: Callable[[], Awaitable[None]]
) -> None:
    """Leave within ``grace`` + :data:`LANDING_TIMEOUT` + :data:`CANCEL_TIMEOUT` seconds.

    No turn starts from now on (:meth:`RunningTurns.begin_shutdown`), ``stop_receiving()``
    stops taking updates, the running turns get what is left of ``grace`` seconds to finish,
    then they are cut short (:meth:`RunningTurns.interrupt`) and, if still running after
    :data:`LANDING_TIMEOUT` seconds, cancelled.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    turns.begin_shutdown()
    await stop_receiving()
    if await turns.wait_idle(deadline - loop.time()):
        return
    running = turns.interrupt()
    log.info("shutting down: %d replies still being written are cut short", running)
    if await turns.wait_idle(LANDING_TIMEOUT):
        return
    cancelled = turns.cancel()
    log.warning(
        "shutting down: %d replies could not be landed within %.0f s and were cancelled; "
        "their chats are told at the next start",
        cancelled, LANDING_TIMEOUT,
    )
    await turns.wait_idle(CANCEL_TIMEOUT)


def namespace(settings: Settings) -> str:
    """The prefix of the bot's keys and channels in Redis: Telegram's limits are per bot, so
    every process of one bot shares it (the bot's id, the token's part before ``:``)."""
    return "llm-telegram-bot:" + settings.telegram_bot_token.get_secret_value().split(":")[0]


def flood_budget(settings: Settings) -> FloodBudget:
    """The flood control FLOOD_BACKEND names: :class:`bot.flood.FloodControl` (``memory``) or a
    budget shared through Redis by every process of the bot
    (:class:`bot.shared_flood.SharedFloodControl`, ``redis``; it connects at its first write)."""
    if settings.flood_backend == "redis":
        from bot.redis_link import connect
        from bot.shared_flood import SharedFloodControl

        return SharedFloodControl(connect(settings.redis_url), namespace(settings))
    return FloodControl()


async def close_flood(flood: FloodBudget) -> None:
    """Release what :func:`flood_budget` opened (a Redis connection), if anything."""
    aclose = getattr(flood, "aclose", None)
    if aclose is not None:
        await aclose()


def stop_signals(settings: Settings, turns: RunningTurns) -> StopSignals:
    """How ``/stop`` reaches ``turns``, as STOP_BACKEND says: in this process (``memory``) or in
    every process of the bot (``redis``, :class:`bot.shared_stop.RedisStopSignals`; call its
    ``start()`` before the first update and ``aclose()`` at the end)."""
    if settings.stop_backend == "redis":
        from bot.redis_link import connect
        from bot.shared_stop import RedisStopSignals

        return RedisStopSignals(connect(settings.redis_url), namespace(settings), turns)
    return LocalStopSignals(turns)
