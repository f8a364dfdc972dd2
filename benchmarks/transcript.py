"""A conversation as the fake Bot API server sees it: every call, in order, with its time.

``python -m benchmarks.transcript`` runs the bot's real wiring (``bot.app.serve``, what
``python -m bot`` runs) in this process against the tests' fake Bot API server (flood control
on) and fake provider servers, has a user ask two questions, switch to ``dalle`` and ask for a
picture, then prints the user's messages and the Bot API calls, in seconds from the first
message. Calls are sorted by the time the server received them; a ``getUpdates`` long poll
shows when it was received (it is answered when an update arrives).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any

from bot.app import serve
from bot.settings import Settings
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

CHAT = 4242
FIRST = (
    "The capital of France is **Paris**. It has about 2.1 million inhabitants, and the wider "
    "region about 12 million."
)
SECOND = "About 105 square kilometres."
SHOWN = ("chat_id", "message_id", "text", "action", "caption", "photo", "offset", "timeout")


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    kept = {key: params[key] for key in SHOWN if key in params}
    if isinstance(kept.get("photo"), bytes | bytearray):
        kept["photo"] = f"<{len(kept['photo'])} bytes>"
    if len(kept.get("text", "")) > 60:
        kept["text"] = kept["text"][:57] + "..."
    if params.get("entities"):
        kept["entities"] = [entity["type"] for entity in params["entities"]]
    return kept


def bot_settings(telegram: FakeTelegram, database_url: str) -> Settings:
    """The bot's settings for the fake Bot API server (providers: from the environment)."""
    return Settings(
        _env_file=None,
        telegram_bot_token=telegram.token,
        telegram_api_base_url=telegram.base_url,
        telegram_api_base_file_url=telegram.base_file_url,
        database_url=database_url,
        default_model="gpt-4o-mini",
    )


async def main() -> None:
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        os.environ.update(fake.env())
        fake.push("openai", Reply(FIRST, delta_chars=12, delay=0.15))
        fake.push("openai", Reply(SECOND, delta_chars=10, delay=0.1))
        fake.push("aichats", Reply(image=b"\x89PNG\r\n\x1a\n" + bytes(2000)))
        with tempfile.TemporaryDirectory() as folder:
            settings = bot_settings(telegram, f"sqlite+aiosqlite:///{folder}/transcript.db")
            stop = asyncio.Event()
            bot = asyncio.create_task(serve(settings, stop))
            await telegram.wait_for(lambda: bool(telegram.calls_for("setMyCommands")), 60)
            start, first_call = time.monotonic(), len(telegram.calls)
            said: list[tuple[float, str]] = []

            async def say(text: str, done: Any) -> None:
                said.append((time.monotonic() - start, text))
                telegram.send_message(CHAT, text, first_name="Ada")
                await telegram.wait_for(lambda: done(telegram.bot_messages(CHAT)), 30)

            await say("What is the capital of France?",
                      lambda ms: any((m.text or "").endswith("12 million.") for m in ms))
            await say("How big is it?", lambda ms: any(m.text == SECOND for m in ms))
            await say("/model dalle", lambda ms: any("dalle" in (m.text or "") for m in ms))
            await say("The Eiffel tower at night", lambda ms: any(m.kind == "photo" for m in ms))
            stop.set()
            await bot
    for at, text in said:
        print(f"{at:7.3f}s  user  {text!r}")
    for call in sorted(telegram.calls[first_call:], key=lambda c: c.time):
        print(f"{call.time - start:7.3f}s  {call.status}  {call.method:16s} "
              f"{json.dumps(_shown(call.params), ensure_ascii=False)}")
    history = fake.requests_for("openai")[-1].json["messages"]
    print("history the provider received with the second question:")
    print(json.dumps(history, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
