"""A voice turn and a photo turn as the fake servers see them: every call, in order, with times.

``python -m benchmarks.media_transcript`` runs the bot's real wiring (``bot.app.serve``) in this
process against the tests' fake Bot API server (flood control on) and fake provider server; the
user sends a voice note, then a photo with a caption. It prints, in seconds from the voice
note, the Bot API calls and the provider server's requests merged in the order they arrived
(both clocks are ``time.monotonic``).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any

from benchmarks.transcript import _shown, bot_settings
from bot.app import serve
from tests.fakes.providers import FakeProviders, RecordedRequest, Reply
from tests.fakes.telegram import Call, FakeTelegram, tiny_png

CHAT = 4343
VOICE = b"OggS\x00\x02" + bytes(4000)


def _request(request: RecordedRequest) -> str:
    """What a provider request carried, briefly."""
    if request.path.endswith("/audio/transcriptions"):
        return f"model={request.json['model']} file=<{len(request.body)} bytes>"
    if request.path.endswith("/chat/completions"):
        messages = []
        for message in request.json["messages"]:
            content = message["content"]
            if isinstance(content, list):
                content = [part["type"] if part["type"] != "text" else part["text"]
                           for part in content]
            messages.append({message["role"]: content})
        return json.dumps(messages, ensure_ascii=False)
    return ""


async def main() -> None:
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        os.environ.update(fake.env())
        fake.push("transcription", Reply("How far away is the Moon?"))
        fake.push("openai", Reply("About 384,400 km on average.", delta_chars=8, delay=0.1))
        fake.push("openai", Reply("A grey square: a test picture.", delta_chars=8, delay=0.1))
        with tempfile.TemporaryDirectory() as folder:
            settings = bot_settings(telegram, f"sqlite+aiosqlite:///{folder}/media.db")
            stop = asyncio.Event()
            bot = asyncio.create_task(serve(settings, stop))
            await telegram.wait_for(lambda: bool(telegram.calls_for("setMyCommands")), 60)
            first_call, first_request = len(telegram.calls), len(fake.requests)
            start = time.monotonic()
            said: list[tuple[float, str]] = []

            async def send(what: str, done: Any, **file: Any) -> None:
                said.append((time.monotonic() - start, what))
                telegram.send_file(CHAT, first_name="Ada", **file)
                await telegram.wait_for(lambda: done(telegram.bot_messages(CHAT)), 30)

            await send("voice note (4 s)", lambda ms: any("384,400" in (m.text or "") for m in ms),
                       kind="voice", data=VOICE, duration=4)
            await send("photo + caption 'What is this?'",
                       lambda ms: any("test picture" in (m.text or "") for m in ms),
                       kind="photo", data=tiny_png(320, 240), caption="What is this?")
            stop.set()
            await bot
    for at, what in said:
        print(f"{at:7.3f}s  user      {what}")
    events: list[tuple[float, str]] = []
    for call in telegram.calls[first_call:]:
        if call.method != "getUpdates":
            events.append((call.time, _bot_api(call)))
    for request in fake.requests[first_request:]:
        line = f"provider  {request.method} {request.path}  {_request(request)}"
        events.append((request.time, line))
    for at, line in sorted(events):
        print(f"{at - start:7.3f}s  {line}")


def _bot_api(call: Call) -> str:
    shown = _shown(call.params)
    if call.method == "getFile":
        shown = {"file_id": call.params.get("file_id")}
    return f"bot api   {call.status} {call.method:16s} {json.dumps(shown, ensure_ascii=False)}"


if __name__ == "__main__":
    asyncio.run(main())
