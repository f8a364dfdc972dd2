"""One turn of a conversation, without Telegram: history in, provider out, reply persisted.

:class:`ChatService` loads the chat's history from the store, resolves the chat's model in the
provider registry, streams the provider's chunks (falling back to the next provider of the same
model when one fails before its first chunk) into a :class:`ReplySink`, and records what
happened in the history. The Telegram handlers give it a sink backed by the reply streamer; tests
and the console give it their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.settings import Settings
from bot.storage import ChatRecord, MessageRecord, ReplyStatus, Store
from providers import ImageResponse, ModelRegistry, ProviderError, Route, UnknownModelError

log = logging.getLogger(__name__)

WriteCallback = Callable[[str, list[int]], Awaitable[None]]


@dataclass(frozen=True)
class ChatTarget:
    """Where a turn happens: a Telegram chat and, in forums, a topic (``thread_id`` 0: none)."""

    chat_id: int
    thread_id: int = 0
    chat_type: str = "private"

    @property
    def key(self) -> tuple[int, int]:
        return (self.chat_id, self.thread_id)


@dataclass
class SinkReply:
    """What a sink delivered for a streamed text: the full text, its message ids, and the error
    that ended the chunk source early (the text so far was still delivered)."""

    text: str
    message_ids: list[int] = field(default_factory=list)
    error: BaseException | None = None


class ReplySink(Protocol):
    """Where replies go. The Telegram sink wraps the reply streamer; tests use their own."""

    async def stream(
        self, chunks: AsyncIterable[str], on_write: WriteCallback, stop: asyncio.Event
    ) -> SinkReply:
        """Show the chunks as one growing reply; when ``stop`` is set, end it where it is."""
        ...

    async def send_photo(self, image: ImageResponse, caption: str) -> tuple[int, str]: ...

    async def notice(self, text: str) -> list[int]: ...

    async def action(self, action: str) -> None: ...


@dataclass(frozen=True)
class TurnResult:
    """How a turn ended: ``status`` is the reply's stored status."""

    status: ReplyStatus
    text: str
    model: str
    provider: str | None
    message_ids: list[int]
    error: str | None = None


class ChatService:
    """Drives turns; one instance per process, shared by every chat.

    ``stop(target)`` ends the turn running for a chat (the text so far stays); turns of one chat
    are serialised by the caller (the bot's update processor), different chats run concurrently.
    """

    #: Seconds between saves of a streaming reply's partial text and message ids (the first save
    #: comes this long into the reply: the final state is always saved, and a short reply needs
    #: no partial save, which keeps the database's single writer free for other chats' turns).
    partial_save_interval = 5.0

    def __init__(self, store: Store, registry: ModelRegistry, settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self._stops: dict[tuple[int, int], asyncio.Event] = {}

    # -- models ------------------------------------------------------------------------------

    @property
    def default_model(self) -> str:
        """DEFAULT_MODEL, or the registry's first model when unset."""
        if self.settings.default_model:
            return self.registry.canonical(self.settings.default_model)
        return self.registry.model_names()[0]

    def model_of(self, chat: ChatRecord | None) -> str:
        """The chat's chosen model, or the default when none is chosen (or it vanished)."""
        return self._routes_of(chat)[0]

    def _routes_of(self, chat: ChatRecord | None) -> tuple[str, list[Route]]:
        """The chat's model and its providers in fallback order."""
        if chat is not None and chat.model:
            try:
                return chat.model, self.registry.resolve(chat.model)
            except UnknownModelError:
                log.warning("chat %s: stored model %r is no longer offered", chat.id, chat.model)
        model = self.default_model
        return model, self.registry.resolve(model)

    async def set_model(self, target: ChatTarget, name: str) -> str:
        """Switch a chat's model; returns the canonical name. Raises UnknownModelError."""
        canonical = self.registry.canonical(name)
        await self.store.get_or_create_chat(target.chat_id, target.chat_type)
        await self.store.set_model(target.chat_id, canonical)
        return canonical

    async def current_model(self, target: ChatTarget) -> str:
        return self.model_of(await self.store.get_chat(target.chat_id))

    # -- turns -------------------------------------------------------------------------------

    def stop(self, target: ChatTarget) -> bool:
        """Ask the chat's running turn to stop; False when nothing is running."""
        event = self._stops.get(target.key)
        if event is None or event.is_set():
            return False
        event.set()
        return True

    async def run_turn(
        self,
        target: ChatTarget,
        text: str,
        sink: ReplySink,
        *,
        telegram_message_id: int | None = None,
    ) -> TurnResult:
        """Answer the user's message with the chat's model (with the conversation's history);
        the message and the reply are stored as the reply is written."""
        return await self._answer(target, sink, text, telegram_message_id)

    async def retry(self, target: ChatTarget, sink: ReplySink) -> TurnResult | None:
        """Answer the conversation's last user message again (dropping the replies after it).

        Returns None when the conversation has no user message yet.
        """
        last = await self.store.last_user_message(target.chat_id, target.thread_id)
        if last is None:
            return None
        await self.store.delete_last_reply(target.chat_id, target.thread_id)
        return await self._answer(target, sink, None, None)

    async def _answer(
        self,
        target: ChatTarget,
        sink: ReplySink,
        text: str | None,
        telegram_message_id: int | None,
    ) -> TurnResult:
        chat, history = await self.store.turn_context(
            target.chat_id,
            target.thread_id,
            pending=text,
            limit=self.settings.history_limit,
            max_chars=self.settings.history_max_chars,
            system_prompt=self.settings.system_prompt,
        )
        model, routes = self._routes_of(chat)
        # The provider starts at once; the turn is recorded meanwhile (the database's single
        # writer may be busy with other chats) and awaited before the reply's id is needed.
        recording = asyncio.create_task(
            self.store.record_turn(
                target.chat_id,
                chat_type=target.chat_type,
                thread_id=target.thread_id,
                user_message=text,
                telegram_message_id=telegram_message_id,
                model=model,
            )
        )
        reply = _Reply(self.store, recording, model, self.partial_save_interval)
        stop = self._stops[target.key] = asyncio.Event()
        try:
            if routes[0].is_image:
                return await self._answer_image(routes, history, reply, sink)
            return await self._answer_text(routes, history, reply, sink, stop)
        finally:
            self._stops.pop(target.key, None)
            await recording  # recorded even when the turn failed or was cancelled

    async def _answer_text(
        self,
        routes: list[Route],
        history: list[dict[str, str]],
        reply: _Reply,
        sink: ReplySink,
        stop: asyncio.Event,
    ) -> TurnResult:
        served: list[Route] = []

        async def text_chunks() -> AsyncIterator[str]:
            async for route, chunk in self.registry.stream_routes(routes, history):
                if not served:
                    served.append(route)
                if isinstance(chunk, str) and chunk:
                    yield chunk

        delivered = await sink.stream(text_chunks(), reply.on_write, stop)
        provider = served[0].provider.__name__ if served else None
        model = reply.model
        if delivered.error is not None:
            error = _user_error(delivered.error)
            if delivered.text:
                notice = (
                    f"⚠️ {model} stopped answering midway: {error}\n"
                    "The reply above is incomplete; send /retry to try again."
                )
            else:
                notice = (
                    f"⚠️ {model} failed: {error}\n"
                    "Send /retry to try again, or /model to pick another model."
                )
            return await self._fail(
                reply, sink, notice, provider, error, delivered.text, delivered.message_ids
            )
        status = ReplyStatus.STOPPED if stop.is_set() else ReplyStatus.COMPLETE
        await reply.update(
            content=delivered.text,
            status=status,
            provider=provider,
            telegram_message_ids=delivered.message_ids,
        )
        if status is ReplyStatus.COMPLETE and not delivered.text:
            await sink.notice(f"⚠️ {model} sent an empty reply. Send /retry to try again.")
        return TurnResult(status, delivered.text, model, provider, delivered.message_ids)

    async def _answer_image(
        self,
        routes: list[Route],
        history: list[dict[str, str]],
        reply: _Reply,
        sink: ReplySink,
    ) -> TurnResult:
        await sink.action("upload_photo")
        provider: str | None = None
        message_ids: list[int] = []
        file_id: str | None = None
        url: str | None = None
        prompt = history[-1]["content"] if history else ""
        try:
            async for route, chunk in self.registry.stream_routes(routes, history):
                provider = route.provider.__name__
                if isinstance(chunk, ImageResponse):
                    message_id, file_id = await sink.send_photo(chunk, caption=chunk.alt or prompt)
                    message_ids.append(message_id)
                    url = url or (chunk.urls[0] if chunk.urls else None)
        except Exception as failure:  # noqa: BLE001 - a provider's, or sending the photo failed
            error = _user_error(failure)
        else:
            error = None if message_ids else "no image in the provider's answer"
        if error is not None:
            notice = f"⚠️ {reply.model} failed: {error}\nSend /retry to try again."
            return await self._fail(reply, sink, notice, provider, error, "", message_ids)
        content = f"[image: {prompt}]"
        await reply.update(
            content=content,
            status=ReplyStatus.COMPLETE,
            provider=provider,
            telegram_message_ids=message_ids,
            image_file_id=file_id,
            image_url=url,
        )
        return TurnResult(ReplyStatus.COMPLETE, content, reply.model, provider, message_ids)

    async def _fail(
        self,
        reply: _Reply,
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


class _Reply:
    """The stored reply of a running turn, whose row is being recorded by ``recording``.

    While it streams, :meth:`on_write` saves its text and message ids every
    ``partial_save_interval`` seconds.
    """

    def __init__(
        self,
        store: Store,
        recording: asyncio.Task[MessageRecord],
        model: str,
        partial_save_interval: float,
    ) -> None:
        self.store, self.recording, self.model = store, recording, model
        self.partial_save_interval = partial_save_interval
        self._saved_at = asyncio.get_running_loop().time()

    async def update(self, **fields: Any) -> None:
        """Change the reply's stored fields (once its row is recorded); the model is set too."""
        stored = await self.recording
        await self.store.update_reply(stored.id, model=self.model, **fields)

    async def on_write(self, text: str, message_ids: list[int]) -> None:
        """The streamer wrote ``text``: save it if the last save is old enough."""
        now = asyncio.get_running_loop().time()
        if now - self._saved_at < self.partial_save_interval:
            return
        self._saved_at = now
        await self.update(content=text, telegram_message_ids=list(message_ids))


def _user_error(error: BaseException) -> str:
    """A short text safe to show a user and to store with the failed reply: for a provider
    error its provider's name and short category (``ProviderError.user_text``, e.g. "OpenAI:
    the provider is down (HTTP 500)"), never what the provider's server wrote (the registry
    logs that)."""
    if isinstance(error, ProviderError):
        return error.user_text() or type(error).__name__
    log.error("unexpected error in a turn", exc_info=error)
    return "an unexpected error occurred"
