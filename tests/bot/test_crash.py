"""Nothing is lost in a crash: the real ``python -m bot`` is killed (SIGKILL) while it answers,
with more messages of the chat already fetched from Telegram, and started again."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.bot.test_process import CHAT, start_bot, telegram_env, wait_for
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram


async def test_messages_fetched_before_a_crash_are_answered_after_the_restart(
    tmp_path: Path,
) -> None:
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        env = telegram_env(tmp_path, telegram, fake)
        # A reply of about 9 s: 180 deltas of 5 characters, 0.05 s apart.
        fake.push("openai", Reply("x" * 899 + ".", delta_chars=5, delay=0.05))

        process = await start_bot(tmp_path, env)
        await wait_for(lambda: telegram.calls_for("setMyCommands"))
        first = telegram.send_message(CHAT, "first")["message"]["message_id"]
        await wait_for(lambda: any(len(m.text or "") > 40 for m in telegram.bot_messages(CHAT)))
        second = telegram.send_message(CHAT, "second")["message"]["message_id"]
        third = telegram.send_message(CHAT, "third")["message"]["message_id"]
        # Both are fetched: the bot asked for the next offset, so Telegram will not send them again.
        await wait_for(lambda: not telegram.pending_updates)
        assert not any(m.text and m.text.endswith(".") for m in telegram.bot_messages(CHAT))
        process.send_signal(signal.SIGKILL)
        await process.communicate()

        fake.push("openai", Reply("Answer to the second."), Reply("Answer to the third."))
        process = await start_bot(tmp_path, env)
        try:
            await wait_for(lambda: len(fake.requests_for("openai")) >= 3, timeout=30)
            await wait_for(
                lambda: {m.text for m in telegram.bot_messages(CHAT)}
                >= {"Answer to the second.", "Answer to the third."},
                timeout=30,
            )
            await asyncio.sleep(0.5)  # nothing else comes
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), 30)

    shown = telegram.bot_messages(CHAT)
    by_text = {m.text: m for m in shown}
    notices = [m for m in shown if "interrupted by a restart" in (m.text or "")]
    assert len(notices) == 1  # the first message: its reply was cut, the chat is told
    assert by_text["Answer to the second."].reply_to_message_id == second
    assert by_text["Answer to the third."].reply_to_message_id == third
    # The first message is not answered a second time (its turn was recorded before the crash).
    requests = [r.json["messages"] for r in fake.requests_for("openai")]
    assert len(requests) == 3
    assert [m["content"] for m in requests[0]] == ["first"]
    # The interrupted reply's text was not saved yet (partial saves come every 5 s): the two
    # user messages in a row are sent merged, so roles still alternate.
    assert requests[1] == [{"role": "user", "content": "first\n\nsecond"}]
    assert requests[2][-2:] == [
        {"role": "assistant", "content": "Answer to the second."},
        {"role": "user", "content": "third"},
    ]
    assert first < second < third
