"""Photos: images as OpenAI content parts, and a history's photos for the provider.

A user message with photos is stored with its caption as ``content`` and its photos in
``attachments`` (``{"kind": "photo", "file_id": ...}``). For the provider it becomes content
parts, ``[{"type": "text", ...}, {"type": "image_url", "image_url": {"url": "data:..."}}]``
(OpenAI API reference, "Chat": image inputs), when the images' bytes are at hand; else a short
text (``"[photo] caption"``) so older photos cost no bytes.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.i18n import _
from bot.inputs import FileFetcher, InputError
from providers.errors import ResponseFormatError
from providers.http import image_mime_type

log = logging.getLogger(__name__)

Image = tuple[bytes, str]
"""An image's bytes and its MIME type."""


def checked_image(data: bytes, mime_type: str | None = None) -> Image:
    """``(data, MIME type)``, the type read from the magic bytes (PNG, JPEG, GIF, WebP) or an
    ``image/*`` ``mime_type``. Raises :class:`InputError` for an empty file or one that is not
    an image."""
    if not data:
        raise InputError(_("That image is empty: send it again."))
    try:
        return data, image_mime_type(data[:16], mime_type)
    except ResponseFormatError:
        raise InputError(
            _("That file is not an image I can read (PNG, JPEG, GIF or WebP).")
        ) from None


def image_part(image: Image) -> dict[str, Any]:
    """An OpenAI ``image_url`` content part holding the image as a ``data:`` URI."""
    data, mime = image
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def photo_ids(message: Mapping[str, Any]) -> list[str]:
    """The ``file_id`` of each photo attached to a history message, in order."""
    return [str(item["file_id"]) for item in message.get("attachments") or []
            if item.get("kind") == "photo" and item.get("file_id")]


def recent_photo_ids(history: Sequence[Mapping[str, Any]], max_images: int) -> list[str]:
    """The photos of the newest messages, at most ``max_images``: a message's photos are taken
    all or none, newest message first (so an album is never split)."""
    chosen: list[str] = []
    for message in reversed(history):
        ids = photo_ids(message)
        if len(chosen) + len(ids) > max_images:
            break
        chosen.extend(ids)
    return chosen


def placeholder(count: int, text: str) -> str:
    """The text that stands for ``count`` photos not sent: ``"[photo] caption"``,
    ``"[3 photos]"``."""
    mark = "[photo]" if count == 1 else f"[{count} photos]"
    return f"{mark} {text}".strip()


def provider_messages(history: Sequence[Mapping[str, Any]],
                      images: Mapping[str, Image]) -> list[dict[str, Any]]:
    """The history as the provider gets it: ``{"role", "content"}`` each; a message whose
    photos are all in ``images`` (file_id -> image) gets content parts (its text first, when
    it has one), one with photos missing gets :func:`placeholder` text."""
    result: list[dict[str, Any]] = []
    for message in history:
        ids, text = photo_ids(message), str(message["content"])
        content: str | list[dict[str, Any]] = text
        if ids and all(file_id in images for file_id in ids):
            parts = [{"type": "text", "text": text}] if text else []
            content = parts + [image_part(images[file_id]) for file_id in ids]
        elif ids:
            content = placeholder(len(ids), text)
        result.append({"role": message["role"], "content": content})
    return result


async def history_images(history: Sequence[Mapping[str, Any]], current: Mapping[str, Image],
                         files: FileFetcher | None, *, max_images: int,
                         max_bytes: int) -> dict[str, Image]:
    """The images to send with ``history``: those of :func:`recent_photo_ids`, taken from
    ``current`` (this turn's) or fetched again by ``file_id`` through ``files`` (at most
    ``max_bytes`` each). One that cannot be fetched is left out (it is sent as text)."""
    images: dict[str, Image] = {}
    for file_id in recent_photo_ids(history, max_images):
        if file_id in current:
            images[file_id] = current[file_id]
        elif files is not None:
            try:
                images[file_id] = checked_image(await files.fetch(file_id, max_bytes))
            except InputError as error:
                log.info("photo %s not sent again: %s", file_id, error)
    return images
