"""The answer of a text model: the provider's chunks streamed into the sink as one growing
reply (its reasoning kept apart), cut at MAX_REPLY_CHARS, and the reply stored with its outcome
(complete, stopped, interrupted, cut, failed midway, empty) and the chat told what went wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from bot.i18n import _
from bot.storage import ReplyStatus
from bot.stored_reply import StoredReply
from bot.turn_endings import SHUTDOWN_NOTICE, fail, stopped_status, user_error
from bot.turn_types import ReplySink, TurnResult
from bot.turns import RunningTurns
from providers import ModelRegistry, Reasoning, Route, Usage


async def answer_text(
    registry: ModelRegistry,
    turns: RunningTurns,
    max_reply_chars: int,
    routes: list[Route],
    history: list[dict[str, Any]],
    reply: StoredReply,
    sink: ReplySink,
    stop: asyncio.Event,
    show_reasoning: bool = False,
) -> TurnResult:
    """Stream the text model's answer (``routes`` in fallback order, the provider messages
    ``history``) into ``sink``; ``reply`` collects the chunks, reasoning and usage and is
    updated with the outcome. At most ``max_reply_chars`` characters of answer are read (the
    provider is closed then, the reply kept as stopped). A provider's error ends the turn as
    failed, with the text delivered so far (:func:`bot.turn_endings.fail`)."""
    served: list[Route] = []
    room = max_reply_chars
    capped = False  # the reply reached max_reply_chars

    async def text_chunks() -> AsyncIterator[str | Reasoning]:
        nonlocal room, capped
        stream = registry.stream_routes(routes, history)
        async with aclosing(stream):  # closing it closes the provider's stream
            async for route, chunk in stream:
                if not served:
                    served.append(route)
                if isinstance(chunk, Usage):
                    reply.usage = chunk
                if isinstance(chunk, str) and chunk:
                    if len(chunk) > room:  # the rest is not read: the provider is closed
                        capped = True
                        if room:
                            reply.chunks.append(chunk[:room])
                            yield chunk[:room]
                        return
                    room -= len(chunk)
                    reply.chunks.append(chunk)
                    yield chunk
                elif isinstance(chunk, Reasoning) and chunk.text:  # kept apart, not counted
                    reply.thoughts.append(chunk.text)
                    yield chunk

    delivered = await sink.stream(
        text_chunks(), reply.on_write, stop, show_reasoning=show_reasoning
    )
    provider = served[0].provider.__name__ if served else None
    model = reply.model
    if delivered.error is not None:
        error, shown = user_error(delivered.error)
        if delivered.text:
            notice = _(
                "⚠️ {model} stopped answering midway: {error}\n"
                "The reply above is incomplete; send /retry to try again.",
                model=model, error=shown,
            )
        else:
            notice = _(
                "⚠️ {model} failed: {error}\n"
                "Send /retry to try again, or /model to pick another model.",
                model=model, error=shown,
            )
        return await fail(
            reply, sink, notice, provider, error, delivered.text, delivered.message_ids
        )
    limit = max_reply_chars  # ``room`` counted down from it
    # A reply cut at the limit is kept like a stopped one: its text stays in the history.
    cut = f"cut at MAX_REPLY_CHARS ({limit} characters)" if capped else None
    if stop.is_set():
        status = stopped_status(turns)
    else:
        status = ReplyStatus.STOPPED if capped else ReplyStatus.COMPLETE
    await reply.update(
        content=delivered.text,
        status=status,
        provider=provider,
        telegram_message_ids=delivered.message_ids,
        error=cut,
    )
    if status is ReplyStatus.INTERRUPTED:
        await sink.notice(_(SHUTDOWN_NOTICE))
    elif capped:
        await sink.notice(_(
            "✂️ The reply was cut here: it reached {limit:,} characters, the longest reply "
            "this bot sends. Ask for the rest to read on.",
            limit=limit,
        ))
    elif status is ReplyStatus.COMPLETE and not delivered.text and reply.reasoning:
        await sink.notice(_(
            "⚠️ {model} only reasoned and gave no answer. Send /retry to try again.",
            model=model,
        ))
    elif status is ReplyStatus.COMPLETE and not delivered.text:
        await sink.notice(
            _("⚠️ {model} sent an empty reply. Send /retry to try again.", model=model)
        )
    return TurnResult(status, delivered.text, model, provider, delivered.message_ids, cut)
