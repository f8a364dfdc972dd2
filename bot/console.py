"""``python -m bot.console``: talk to the chat service in a terminal, without Telegram.

It runs the very same turns as the bot (history in the database, the chosen model's providers
with fallback) and prints the reply as it streams. Lines starting with ``/model NAME`` switch
the model, ``/new`` starts a new conversation, ``/quit`` (or end of input) leaves. It needs no
token: only the provider settings and DATABASE_URL are read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterable

import providers.settings
from bot.model_choice import make_registry
from bot.service import ChatService, ChatTarget, SinkReply, WriteCallback
from bot.settings import Settings
from bot.storage import Store
from providers import ImageResponse, Reasoning, UnknownModelError

CONSOLE_TOKEN = "0:console-needs-no-token"


class ConsoleSink:
    """A reply sink that writes to a text stream (standard output by default)."""

    def __init__(self, out=sys.stdout) -> None:  # noqa: ANN001 - any text stream
        self.out = out

    async def stream(
        self,
        chunks: AsyncIterable[str | Reasoning],
        on_write: WriteCallback,
        stop: asyncio.Event,
        *,
        show_reasoning: bool = False,
    ) -> SinkReply:
        """Print the answer as it streams (reasoning is not printed)."""
        text = ""
        try:
            async for chunk in chunks:
                if stop.is_set():
                    break
                if not isinstance(chunk, str):
                    continue
                text += chunk
                self.out.write(chunk)
                self.out.flush()
        except Exception as error:  # noqa: BLE001 - reported by the service, like the streamer does
            self.out.write("\n")
            return SinkReply(text, [], error)
        self.out.write("\n")
        return SinkReply(text, [])

    async def send_photo(self, image: ImageResponse, caption: str) -> tuple[int, str]:
        where = image.urls[0] if image.urls else "inline data"
        self.out.write(f"[image {image.mime_type}, {len(image.data)} bytes, {where}] {caption}\n")
        return 0, ""

    async def notice(self, text: str) -> list[int]:
        self.out.write(text + "\n")
        return []

    async def send_voice(self, audio: bytes) -> int:
        self.out.write(f"[voice message, {len(audio)} bytes]\n")
        return 0

    async def action(self, action: str) -> None:
        self.out.write(f"({action}…)\n")


async def console(settings: Settings, chat_id: int) -> None:
    providers.settings.configure(settings)
    store = await Store.open(settings.database_url, migrate=True)
    try:
        registry = make_registry(settings)
        await registry.refresh()
        service = ChatService(store, registry, settings)
        target, sink = ChatTarget(chat_id), ConsoleSink()
        print(f"model: {await service.models.current_model(target)} — /model NAME, /new, /quit")
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, _read_line)
            if line is None or line.strip() == "/quit":
                return
            line = line.strip()
            if line.startswith("/model"):
                try:
                    print("model:", await service.models.set_model(target, line[6:].strip()))
                except UnknownModelError as error:
                    print(error)
            elif line == "/new":
                await store.new_conversation(chat_id)
                print("new conversation")
            elif line:
                await service.run_turn(target, line, sink)
    finally:
        await store.close()
        providers.settings.configure(None)


def _read_line() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot.console", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--chat-id", type=int, default=1, help="the history to use (default 1)")
    args = parser.parse_args(argv)
    settings = Settings(telegram_bot_token=CONSOLE_TOKEN)
    asyncio.run(console(settings, args.chat_id))


if __name__ == "__main__":
    main()
