"""The answer of an image model: the provider's images sent to the chat as photos, the reply
stored as ``[image: prompt]`` with the last photo's Telegram file id and the image's URL.

/stop (or a shutdown) cancels the generation or the upload wherever it is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.i18n import N_, _
from bot.racing import race
from bot.storage import ReplyStatus
from bot.stored_reply import StoredReply
from bot.turn_endings import SHUTDOWN_NOTICE, fail, stopped_status, user_error
from bot.turn_types import ReplySink, TurnResult
from bot.turns import RunningTurns
from providers import ImageResponse, ModelRegistry, Route

#: Told to a chat whose image turn /stop ended before an image was sent.
IMAGE_STOPPED = N_("⏹ Stopped: no image was sent.")
#: The error of an image turn whose provider sent no image.
NO_IMAGE = N_("no image in the provider's answer")


async def answer_image(
    registry: ModelRegistry,
    turns: RunningTurns,
    routes: list[Route],
    history: list[dict[str, Any]],
    reply: StoredReply,
    sink: ReplySink,
    stop: asyncio.Event,
) -> TurnResult:
    """Ask the image model (``routes`` in fallback order) with the provider messages
    ``history`` (its last one is the prompt) and send each image to ``sink``; ``reply`` is
    updated with the outcome. A provider's error or a photo Telegram refused ends the turn as
    failed (told to the chat, :func:`bot.turn_endings.fail`); no image at all, likewise."""
    await sink.action("upload_photo")
    provider: str | None = None
    message_ids: list[int] = []
    file_id: str | None = None
    url: str | None = None
    prompt = history[-1]["content"] if history else ""

    async def generate() -> None:
        nonlocal provider, file_id, url
        async for route, chunk in registry.stream_routes(routes, history):
            provider = route.provider.__name__
            if isinstance(chunk, ImageResponse):
                message_id, file_id = await sink.send_photo(chunk, caption=chunk.alt or prompt)
                message_ids.append(message_id)
                url = url or (chunk.urls[0] if chunk.urls else None)

    # /stop (or a shutdown) cancels the generation or the upload wherever it is.
    failure: Exception | None = None
    try:
        completed = await race(generate(), stop)
    except Exception as exc:  # a provider's, or sending the photo failed
        completed, failure = True, exc
    content = f"[image: {prompt}]" if message_ids else ""
    if not completed:
        status = stopped_status(turns)
        await reply.update(
            content=content,
            status=status,
            provider=provider,
            telegram_message_ids=message_ids,
            image_file_id=file_id,
            image_url=url,
        )
        interrupted = status is ReplyStatus.INTERRUPTED
        await sink.notice(_(SHUTDOWN_NOTICE) if interrupted else _(IMAGE_STOPPED))
        return TurnResult(status, content, reply.model, provider, message_ids)
    error: str | None = None
    if failure is not None:
        error, shown = user_error(failure)
    elif not message_ids:
        error, shown = NO_IMAGE, _(NO_IMAGE)
    if error is not None:
        notice = _("⚠️ {model} failed: {error}\nSend /retry to try again.",
                   model=reply.model, error=shown)
        return await fail(reply, sink, notice, provider, error, "", message_ids)
    await reply.update(
        content=content,
        status=ReplyStatus.COMPLETE,
        provider=provider,
        telegram_message_ids=message_ids,
        image_file_id=file_id,
        image_url=url,
    )
    return TurnResult(ReplyStatus.COMPLETE, content, reply.model, provider, message_ids)
