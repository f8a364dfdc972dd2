"""The history sent to a provider alternates user and assistant turns, even after a reply
failed (a failed reply is left out: the user messages around it are sent as one)."""

from __future__ import annotations

from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply

CHAT = 6101


def alternates(messages: list[dict[str, str]]) -> bool:
    roles = [m["role"] for m in messages if m["role"] != "system"]
    return roles[:1] == ["user"] and all(a != b for a, b in zip(roles, roles[1:], strict=False))


async def test_after_a_failed_reply_the_next_request_still_alternates(bot: RunningBot) -> None:
    bot.providers.push(
        "openai",
        Reply("Fine."),
        Reply(status=500, body='{"error": {"message": "overloaded"}}'),
        Reply("Both answered."),
    )
    bot.telegram.send_message(CHAT, "hello")
    await bot.wait_for_text(CHAT, "Fine.")
    bot.telegram.send_message(CHAT, "what is 2+2?")
    await bot.wait_for_containing(CHAT, "failed")
    bot.telegram.send_message(CHAT, "and 3+3?")
    await bot.wait_for_text(CHAT, "Both answered.")

    sent = bot.provider_history()
    assert sent == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Fine."},
        {"role": "user", "content": "what is 2+2?\n\nand 3+3?"},
    ]
    assert alternates(sent)
