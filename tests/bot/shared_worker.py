"""One OS process of the multi-process tests (tests/bot/test_shared_flood.py): it writes to the
fake Bot API through a flood control (``redis``: the shared one; ``memory``: its own, as one
process has today) or runs a reply loop that a ``/stop`` from another process must end.

    python -m tests.bot.shared_worker MODE CONFIG_JSON

Every mode first prints ``ready`` and waits for a line on stdin (so the test starts the
processes' work together, after their imports; a JSON object there adds to the config), then
prints one JSON line per event.

* ``load``: streams a reply into each of ``chats`` (a first message, then intermediate edits as
  fast as the flood control allows, edits leaving 2 chat tokens, as the streamer's), until the
  wall clock reaches ``final_at`` (given with ``go``); then writes each reply's final text. Prints
  ``{"final": chat, "asked": t, "granted": t}`` per final and ``{"retry_after": n}`` per 429.
* ``penalize``: one sendMessage to ``chat`` (the test makes the fake answer it 429): prints
  ``{"penalized": chat, "retry_after": s}`` once the block is shared.
* ``send``: one sendMessage to each of ``chats`` at once, each after its flood tokens.
* ``reply``: registers a running turn of ``user`` in ``(chat, 0)`` and "writes" until its stop
  event is set (by a ``/stop`` published in another process): prints ``running``, then
  ``{"stopped": true, "dropped": ...}`` (whether a turn of message 99 is now dropped).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import telegram
from telegram.error import RetryAfter

from bot.flood import FloodBudget, FloodControl, Priority
from bot.flood_limiter import retry_after_seconds
from bot.racing import race
from bot.redis_link import connect
from bot.shared_flood import SharedFloodControl
from bot.shared_stop import RedisStopSignals
from bot.turns import RunningTurns


def emit(**event: Any) -> None:
    print(json.dumps(event), flush=True)


async def wait_for_go() -> dict[str, Any]:
    """Print ``ready``; return the JSON object of the line the test answers (may be empty)."""
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return dict(json.loads(line)) if line.strip() else {}


def flood_of(config: dict[str, Any]) -> FloodBudget:
    if config["backend"] == "redis":
        return SharedFloodControl(connect(config["redis_url"]), config["namespace"])
    return FloodControl()


async def write(flood: FloodBudget, chat: int, call: Any) -> Any:
    """Make one paced write (tokens already taken); a 429 penalizes the chat, returns None."""
    try:
        return await call
    except RetryAfter as exc:
        flood.penalize(chat, retry_after_seconds(exc))
        emit(retry_after=retry_after_seconds(exc), chat=chat)
        return None


async def stream(bot: telegram.Bot, flood: FloodBudget, chat: int, final_at: float) -> None:
    await flood.acquire(chat, Priority.FIRST)
    message = await write(flood, chat, bot.send_message(chat, "part 0"))
    while message is None:  # only after a 429
        await flood.acquire(chat, Priority.FIRST)
        message = await write(flood, chat, bot.send_message(chat, "part 0"))
    parts = 0
    final_reached = asyncio.Event()
    asyncio.get_running_loop().call_later(max(0.0, final_at - time.time()), final_reached.set)
    while not final_reached.is_set():
        if not await race(flood.acquire(chat, Priority.EDIT, reserve=2), final_reached):
            break
        parts += 1
        await write(flood, chat, message.edit_text(f"part {parts}"))
    while True:
        asked = time.time()
        await flood.acquire(chat, Priority.FINAL)
        granted = time.time()
        if await write(flood, chat, message.edit_text(f"final {parts}")) is not None:
            emit(final=chat, asked=asked, granted=granted)
            return


async def load(bot: telegram.Bot, flood: FloodBudget, config: dict[str, Any]) -> None:
    await asyncio.gather(*(stream(bot, flood, chat, config["final_at"]) for chat in config["chats"]))


async def penalize(bot: telegram.Bot, flood: FloodBudget, config: dict[str, Any]) -> None:
    chat = config["chat"]
    await flood.acquire(chat, Priority.FINAL)
    try:
        await bot.send_message(chat, "hello")
    except RetryAfter as exc:
        seconds = retry_after_seconds(exc)
        flood.penalize(chat, seconds)
        if isinstance(flood, SharedFloodControl):
            await flood.aclose()  # waits for the block to be written
        emit(penalized=chat, retry_after=seconds)


async def send(bot: telegram.Bot, flood: FloodBudget, config: dict[str, Any]) -> None:
    async def one(chat: int) -> None:
        await flood.acquire(chat, Priority.FINAL)
        await bot.send_message(chat, "hello")
        emit(sent=chat, at=time.time())

    await asyncio.gather(*(one(chat) for chat in config["chats"]))


async def reply(config: dict[str, Any]) -> None:
    turns = RunningTurns()
    signals = RedisStopSignals(connect(config["redis_url"]), config["namespace"], turns)
    await signals.start()
    try:
        with turns.running((config["chat"], 0), user_id=config["user"], message_id=100) as turn:
            emit(running=True)
            written = 0
            while not turn.stop.is_set():  # the reply loop: a chunk every 50 ms
                await race(asyncio.sleep(0.05), turn.stop)
                written += 1
            dropped = turns.dropped((config["chat"], 0), message_id=99, user_id=config["user"])
            emit(stopped=True, written=written, dropped=dropped is not None)
    finally:
        await signals.aclose()


async def main(mode: str, config: dict[str, Any]) -> None:
    if mode == "reply":
        await wait_for_go()
        await reply(config)
        return
    flood = flood_of(config)
    bot = telegram.Bot(config["token"], base_url=config["base_url"])
    async with bot:
        config.update(await wait_for_go())
        await {"load": load, "penalize": penalize, "send": send}[mode](bot, flood, config)
    if isinstance(flood, SharedFloodControl) and mode != "penalize":
        await flood.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
