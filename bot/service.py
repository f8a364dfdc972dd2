"""One turn of a conversation, without Telegram: history in, provider out, reply persisted.

:class:`ChatService` loads the chat's history from the store, resolves the chat's model in the
provider registry, streams the provider's chunks (falling back to the next provider of the same
model when one fails before its first chunk) into a :class:`ReplySink`, and records what
happened in the history. The Telegram handlers give it a sink backed by the reply streamer; tests
and the console give it their own.

The answer itself is :func:`bot.text_answer.answer_text` or :func:`bot.image_answer.answer_image`;
the chat's model is :class:`bot.chat_models.ChatModels` (``service.models``), its switches
:class:`bot.chat_toggles.ChatToggles` (``service.toggles``). The types shared with the sinks
(:mod:`bot.turn_types`) and the notices of :mod:`bot.turn_endings` are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.budget import Budget
from bot.chat_models import ChatModels
from bot.chat_toggles import ChatToggles
from bot.control import ChatControl
from bot.i18n import N_, _
from bot.image_answer import IMAGE_STOPPED, NO_IMAGE, answer_image
from bot.inputs import FileFetcher, InputError, Upload
from bot.inputs.images import history_images, provider_messages
from bot.inputs.refusals import refusal
from bot.inputs.turn import Converters, UserTurn, user_turn
from bot.settings import Settings
from bot.spoken import speak
from bot.storage import ChatRecord, MessageRecord, ReplyStatus, Store, retrying
from bot.storage.usage import UsageStore
from bot.stored_reply import NOT_KEPT, StoredReply
from bot.text_answer import answer_text
from bot.turn_endings import SHUTDOWN_NOTICE, UNEXPECTED, user_error
from bot.turn_types import (
    ChatTarget,
    DeliveryError,
    ReplySink,
    SinkReply,
    TurnResult,
    WriteCallback,
)
from bot.turns import Dropped, RunningTurns
from providers import ModelRegistry, ProviderError

__all__ = [
    "IMAGE_STOPPED",
    "NO_DATABASE",
    "NO_IMAGE",
    "SHUTDOWN_NOTICE",
    "UNEXPECTED",
    "ChatService",
    "ChatTarget",
    "DeliveryError",
    "ReplySink",
    "SinkReply",
    "TurnResult",
    "WriteCallback",
]

log = logging.getLogger(__name__)

#: Told to a chat when its history cannot be read (the database is unavailable for long).
NO_DATABASE = N_(
    "⚠️ I can't reach my database right now, so I could not answer. "
    "Please send your message again in a while."
)


class ChatService:
    """Drives turns; one instance per process, shared by every chat.

    ``control`` (:class:`bot.control.ChatControl`) stops, forgets and starts anew at once,
    acting on the running turn and the waiting ones (a turn dropped by ``/stop`` is stored as
    stopped, unanswered); turns of one chat are serialised by the caller (the bot's update
    processor), different chats run concurrently.
    ``turns`` (:class:`bot.turns.RunningTurns`) ends them all at shutdown: a turn cut short is
    stored as ``INTERRUPTED`` with its text so far and the chat gets :data:`SHUTDOWN_NOTICE`; a
    turn arriving once the shutdown began is stored the same way, without asking the provider.
    """

    #: Seconds between saves of a streaming reply's partial text and message ids (the first save
    #: comes this long into the reply: the final state is always saved, and a short reply needs
    #: no partial save, which keeps the database's single writer free for other chats' turns).
    partial_save_interval = 5.0

    def __init__(self, store: Store, registry: ModelRegistry, settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.turns = RunningTurns()  # /stop and shutdown end them
        self.control = ChatControl(store, self.turns)
        self.usage = UsageStore(store.engine)  # /usage figures (bot/usage.py)
        self.budget = Budget(settings, self.usage)  # checked before a provider is asked
        self.models = ChatModels(store, registry, settings)  # the chat's model (bot/chat_models.py)
        self.toggles = ChatToggles(store, settings)  # /voice, /reasoning (bot/chat_toggles.py)

    # -- turns -------------------------------------------------------------------------------

    async def run_turn(
        self,
        target: ChatTarget,
        text: str,
        sink: ReplySink,
        *,
        telegram_message_id: int | None = None,
        files: FileFetcher | None = None,
        user_id: int | None = None,
    ) -> TurnResult:
        """Answer the user's message with the chat's model (with the conversation's history);
        the message and the reply are stored as the reply is written. ``files`` fetches the
        earlier turns' photos again for a model that can see (without it they go as text).
        A turn dropped by ``/stop`` (``user_id``'s, or everyone's) is stored as stopped and not
        answered (status ``STOPPED``). With no model to answer
        (:meth:`bot.chat_models.ChatModels.unavailable`) the chat is told why and nothing is
        stored (status ``FAILED``)."""
        if (reason := self.models.unavailable()) is not None:
            return await self._cannot_answer(sink, reason)
        dropped = self.turns.dropped(target.key, message_id=telegram_message_id, user_id=user_id)
        if dropped is not None:
            return await self._dropped(target, text, telegram_message_id, dropped)
        return await self._answer(
            target, sink, UserTurn(text), telegram_message_id, files, user_id
        )

    async def run_upload_turn(
        self,
        target: ChatTarget,
        text: str,
        uploads: Sequence[Upload],
        sink: ReplySink,
        *,
        telegram_message_id: int | None = None,
        files: FileFetcher | None = None,
        user_id: int | None = None,
    ) -> TurnResult | None:
        """Answer files the user sent (with ``text``, their caption) like a text message: a
        voice message's transcript is shown first, then answered; documents become text;
        photos go to the model as images (see :mod:`bot.inputs`).

        A file that cannot be used gets a one-line answer and no turn (returns None); a
        transcription endpoint that fails ends the turn as failed, with the voice stored. A turn
        dropped by ``/stop`` is stored as stopped (its caption) and not answered. With no model
        to answer, the chat is told why (as :meth:`run_turn`)."""
        if (reason := self.models.unavailable()) is not None:
            return await self._cannot_answer(sink, reason)
        dropped = self.turns.dropped(target.key, message_id=telegram_message_id, user_id=user_id)
        if dropped is not None:
            return await self._dropped(target, text, telegram_message_id, dropped)
        if (refused := await self._over_budget(user_id, sink)) is not None:
            return refused
        converters = Converters(
            self.settings.document_max_chars,
            self.settings.transcription_endpoint,
            self.settings.transcription_model,
        )
        try:
            turn = await user_turn(text, uploads, converters)
        except InputError as error:
            await sink.notice(f"⚠️ {error}")  # InputError: in the user's language already
            return None
        except ProviderError as error:
            return await self._transcription_failed(target, uploads, sink, error,
                                                    telegram_message_id)
        if turn.heard:
            await sink.notice(turn.heard)
        return await self._answer(target, sink, turn, telegram_message_id, files, user_id)

    async def refusal(
        self, target: ChatTarget, kind: str, seconds: int | None = None
    ) -> str | None:
        """Why a file of ``kind`` (``"photo"``, ``"voice"``, ``"document"``) cannot be taken
        in this chat before it is even downloaded, or None: photos need a model that can see,
        voice needs TRANSCRIPTION_MODEL and at most VOICE_MAX_SECONDS ``seconds``; with no
        model at all, :meth:`bot.chat_models.ChatModels.unavailable`'s reason."""
        if (reason := self.models.unavailable()) is not None:
            return reason
        model, routes = self.models.routes_of(await self.store.get_chat(target.chat_id))
        return refusal(
            kind,
            seconds,
            transcription_model=self.settings.transcription_model,
            voice_max_seconds=self.settings.voice_max_seconds,
            model=model,
            routes=routes,
            vision_models=self.registry.vision_model_names(),
        )

    async def retry(
        self,
        target: ChatTarget,
        sink: ReplySink,
        *,
        files: FileFetcher | None = None,
        telegram_message_id: int | None = None,
        user_id: int | None = None,
    ) -> TurnResult | None:
        """Answer the conversation's last user message again (dropping the replies after it).

        Returns None when the conversation has no user message yet; a retry (``/retry`` is
        message ``telegram_message_id``) dropped by ``/stop`` changes nothing (``STOPPED``).
        With no model to answer, the chat is told why (as :meth:`run_turn`).
        """
        if (reason := self.models.unavailable()) is not None:
            return await self._cannot_answer(sink, reason)
        dropped = self.turns.dropped(target.key, message_id=telegram_message_id, user_id=user_id)
        if dropped is not None:
            return await self._dropped(target, None, telegram_message_id, dropped)
        last = await self.store.last_user_message(target.chat_id, target.thread_id)
        if last is None:
            return None
        if (refused := await self._over_budget(user_id, sink)) is not None:
            return refused  # before the reply it would replace is deleted
        await self.store.delete_last_reply(target.chat_id, target.thread_id)
        return await self._answer(target, sink, None, telegram_message_id, files, user_id)

    async def _cannot_answer(self, sink: ReplySink, reason: str) -> TurnResult:
        await sink.notice(reason)
        return TurnResult(ReplyStatus.FAILED, "", "", None, [], reason)

    async def _dropped(
        self,
        target: ChatTarget,
        text: str | None,
        telegram_message_id: int | None,
        dropped: Dropped,
    ) -> TurnResult:
        """A turn dropped before it ran: its message is stored with a stopped, empty reply."""
        model = self.models.model_of(await self.store.get_chat(target.chat_id))
        if dropped.record and text is not None:
            await self.store.record_turn(
                target.chat_id,
                chat_type=target.chat_type,
                thread_id=target.thread_id,
                user_message=text,
                telegram_message_id=telegram_message_id,
                model=model,
                reply_status=ReplyStatus.STOPPED,
            )
        return TurnResult(ReplyStatus.STOPPED, "", model, None, [])

    async def _answer(
        self,
        target: ChatTarget,
        sink: ReplySink,
        turn: UserTurn | None,
        telegram_message_id: int | None,
        files: FileFetcher | None = None,
        user_id: int | None = None,
    ) -> TurnResult:
        if (refused := await self._over_budget(user_id, sink)) is not None:
            return refused

        async def read_context() -> tuple[ChatRecord | None, list[dict[str, Any]]]:
            return await self.store.turn_context(
                target.chat_id,
                target.thread_id,
                pending=None if turn is None else turn.text,
                pending_attachments=None if turn is None else turn.attachments,
                limit=self.settings.history_limit,
                max_chars=self.settings.history_max_chars,
                system_prompt=self.settings.system_prompt,
            )

        retry_timeout = self.settings.storage_retry_timeout
        try:
            chat, stored = await retrying(
                read_context, within=retry_timeout, what="reading a turn's history"
            )
        except Exception:
            await sink.notice(_(NO_DATABASE))
            raise
        model, routes = self.models.routes_of(chat)
        await self.models.vanished(chat, model, sink)
        images = {}
        if any(route.can_see for route in routes):
            images = await history_images(
                stored,
                {} if turn is None else turn.images,
                files,
                max_images=self.settings.vision_max_images,
                max_bytes=self.settings.photo_max_bytes,
            )
        history = provider_messages(stored, images)
        async def record() -> MessageRecord:
            return await self.store.record_turn(
                target.chat_id,
                chat_type=target.chat_type,
                thread_id=target.thread_id,
                user_message=None if turn is None else turn.text,
                telegram_message_id=None if turn is None else telegram_message_id,
                model=model,
                attachments=None if turn is None else turn.attachments,
            )

        if self.turns.closing:  # shutting down: no new turn
            return await self._refuse(await record(), sink, model)
        # The provider starts at once; the turn is recorded meanwhile (the database's single
        # writer may be busy with other chats) and awaited before the reply's id is needed.
        reply = StoredReply(
            self.store,
            record,
            model,
            partial_save_interval=self.partial_save_interval,
            retry_timeout=retry_timeout,
            user_id=user_id,
        )
        try:
            with self.turns.running(
                target.key, user_id=user_id, message_id=telegram_message_id
            ) as running:
                reply.recording.add_done_callback(lambda _: running.recorded.set())
                stop = running.stop
                if routes[0].is_image:
                    result = await answer_image(
                        self.registry, self.turns, routes, history, reply, sink, stop
                    )
                else:
                    shown = self.toggles.shows_reasoning(chat)
                    result = await answer_text(
                        self.registry, self.turns, self.settings.max_reply_chars,
                        routes, history, reply, sink, stop, shown,
                    )
        except Exception as error:
            # The sink failed (e.g. the user blocked the bot): the reply ends as failed, with
            # the text the model sent so far.
            await reply.update(
                content=reply.received,
                status=ReplyStatus.FAILED,
                error=f"the reply could not be delivered: {type(error).__name__}",
            )
            raise
        finally:
            await reply.stored()  # recorded even when the turn failed or was cancelled
        if not reply.kept:
            await sink.notice(_(NOT_KEPT))
        complete = result.status is ReplyStatus.COMPLETE and result.text
        if complete and self.toggles.speaks(chat) and not routes[0].is_image:
            await speak(result.text, sink, self.settings)
        return result

    async def _over_budget(self, user_id: int | None, sink: ReplySink) -> TurnResult | None:
        """A user over a token budget (bot/budget.py) is told so; nothing is stored."""
        refusal = await self.budget.refusal(user_id)
        if refusal is None:
            return None
        await sink.notice(refusal)
        return TurnResult(ReplyStatus.FAILED, "", "", None, [], refusal)

    async def _refuse(self, stored: MessageRecord, sink: ReplySink, model: str) -> TurnResult:
        """Shutting down: the turn's reply (``stored``, empty) is recorded as interrupted and the
        chat told."""
        await self.store.update_reply(stored.id, status=ReplyStatus.INTERRUPTED)
        await sink.notice(_(SHUTDOWN_NOTICE))
        return TurnResult(ReplyStatus.INTERRUPTED, "", model, None, [])

    # -- files and voice ---------------------------------------------------------------------

    async def _transcription_failed(
        self,
        target: ChatTarget,
        uploads: Sequence[Upload],
        sink: ReplySink,
        error: ProviderError,
        telegram_message_id: int | None,
    ) -> TurnResult:
        """The speech-to-text endpoint failed: the voice is stored (as "[voice message]"),
        the reply as failed, and the user is told."""
        attachments = [{"kind": upload.kind, "file_id": upload.file_id} for upload in uploads]
        chat = await self.store.get_chat(target.chat_id)
        model = self.models.model_of(chat)
        stored = await self.store.record_turn(
            target.chat_id,
            chat_type=target.chat_type,
            thread_id=target.thread_id,
            user_message="[voice message]",
            telegram_message_id=telegram_message_id,
            model=model,
            attachments=attachments,
        )
        english, shown = user_error(error)
        reason = f"transcription failed: {english}"
        await self.store.update_reply(stored.id, status=ReplyStatus.FAILED, error=reason)
        await sink.notice(_("⚠️ I couldn't understand the recording: {error}\n"
                            "Send it again later, or write to me.", error=shown))
        return TurnResult(ReplyStatus.FAILED, "", model, None, [], reason)
