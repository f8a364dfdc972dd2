"""A user not on the allow-list floods the bot; how long does an allowed user wait for /help?

``python -m benchmarks.outsider_flood [--messages N]`` runs the bot's real wiring
(``bot.app.serve``) in this process against the tests' fake Bot API server (flood control on)
and fake provider servers, with ``ALLOWED_USER_IDS`` set. An outsider sends N messages (300 by
default) in one private chat at once, then an allowed user sends /help in another chat. It
prints the seconds until /help is answered and the refusals the outsider had got by then.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from bot.app import serve
from bot.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.fakes.telegram import FakeTelegram

OUTSIDER, ALLOWED = 666, 42


async def run(messages: int) -> None:
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        os.environ.update(fake.env())
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                _env_file=None,
                telegram_bot_token=telegram.token,
                telegram_api_base_url=telegram.base_url,
                telegram_api_base_file_url=telegram.base_file_url,
                database_url=f"sqlite+aiosqlite:///{folder}/flood.db",
                default_model="gpt-4o-mini",
                allowed_user_ids=str(ALLOWED),
            )
            stop = asyncio.Event()
            bot = asyncio.create_task(serve(settings, stop))
            await telegram.wait_for(lambda: bool(telegram.calls_for("setMyCommands")), timeout=60)
            for i in range(messages):
                telegram.send_message(OUTSIDER, f"let me in {i}")
            start = time.monotonic()
            telegram.send_message(ALLOWED, "/help")
            await telegram.wait_for(lambda: bool(telegram.bot_messages(ALLOWED)), timeout=600)
            help_seconds = time.monotonic() - start
            refusals = len(telegram.bot_messages(OUTSIDER))
            stop.set()
            await bot
    print(f"{messages} messages from an outsider in one chat, then /help from an allowed user")
    print(f"/help answered after {help_seconds:8.2f} s")
    print(f"refusals sent by then{refusals:7d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages in the flood")
    asyncio.run(run(parser.parse_args().messages))


if __name__ == "__main__":
    main()
