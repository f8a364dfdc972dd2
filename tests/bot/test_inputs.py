"""End to end: what each kind of input gets — non-text messages, long and odd texts, groups,
forum topics, the allow-list, and providers that fail."""

from __future__ import annotations

from collections.abc import Callable

from bot.handlers import NOT_TEXT
from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply

CHAT = 4001
GROUP = -100500


async def test_non_text_input_gets_a_short_answer(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, None, sticker=True)
    await bot.wait_for_text(CHAT, NOT_TEXT)
    for accepted in ("text", "voice messages", "photos", "documents", "PDFs"):
        assert accepted in NOT_TEXT  # the answer lists what the bot takes
    assert not bot.providers.requests  # nothing went to a provider
    # Nothing is lost: the bot still answers the next message.
    bot.providers.push("openai", Reply("still here"))
    bot.telegram.send_message(CHAT, "hello?")
    await bot.wait_for_text(CHAT, "still here")


async def test_photo_with_a_caption_for_a_model_that_cannot_see(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(openai_vision_models=["gpt-4o"])
    await bot.start()
    bot.telegram.send_message(CHAT, None, photo=True, caption="what do you think of this?")
    refusal = await bot.wait_for_containing(CHAT, "gpt-4o-mini can't see images")
    assert "Models that can: gpt-4o" in refusal.text and "/model gpt-4o" in refusal.text
    assert not bot.providers.requests and not bot.telegram.calls_for("getFile")


async def test_a_4000_character_message_goes_to_the_provider_whole(bot: RunningBot) -> None:
    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 80)[:4000]
    bot.providers.push("openai", Reply("That was long."))
    bot.telegram.send_message(CHAT, text)
    await bot.wait_for_text(CHAT, "That was long.")
    assert bot.provider_history()[-1]["content"] == text


async def test_whitespace_only_message_gets_a_clear_answer(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "   ")
    await bot.wait_for_text(CHAT, "Your message is empty: write me a question.")
    assert not bot.providers.requests


async def test_group_answers_only_when_addressed(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("Answer to the mention."), Reply("Answer to the reply."))
    tg = bot.telegram
    tg.send_message(GROUP, "just people talking", chat_type="supergroup", user_id=7, title="Team")
    tg.send_message(GROUP, "@test_llm_bot what is 2+2?", chat_type="supergroup", user_id=7,
                    entities=[{"type": "mention", "offset": 0, "length": 13}])
    first = await bot.wait_for_text(GROUP, "Answer to the mention.")
    assert bot.provider_history() == [
        {"role": "user", "content": "what is 2+2?"}
    ]
    tg.send_message(GROUP, "and times 3?", chat_type="supergroup", user_id=8,
                    reply_to_message_id=first.message_id)
    await bot.wait_for_text(GROUP, "Answer to the reply.")
    tg.send_message(GROUP, "more chatter", chat_type="supergroup", user_id=7)
    tg.send_message(GROUP, None, chat_type="supergroup", user_id=7, sticker=True)
    tg.send_message(GROUP, "/help", chat_type="supergroup", user_id=7)
    await bot.wait_bot_text(GROUP, lambda ms: len(ms) == 3)
    assert "/model" in tg.bot_messages(GROUP)[-1].text
    assert len(bot.providers.requests_for("openai")) == 2  # the chatter never reached a provider
    # Group history is the chat's: both addressed turns are in it.
    assert [m["content"] for m in bot.provider_history()] == [
        "what is 2+2?", "Answer to the mention.", "and times 3?"
    ]


async def test_forum_topics_keep_their_own_history(bot: RunningBot) -> None:
    tg = bot.telegram
    bot.providers.push("openai", Reply("topic one"), Reply("topic two"), Reply("one again"))
    kw = {"chat_type": "supergroup", "user_id": 7, "is_forum": True}
    mention = [{"type": "mention", "offset": 0, "length": 13}]
    tg.send_message(GROUP, "@test_llm_bot in topic 11", message_thread_id=11, entities=mention, **kw)
    await bot.wait_for_text(GROUP, "topic one")
    tg.send_message(GROUP, "@test_llm_bot in topic 22", message_thread_id=22, entities=mention, **kw)
    await bot.wait_for_text(GROUP, "topic two")
    tg.send_message(GROUP, "@test_llm_bot again 11", message_thread_id=11, entities=mention, **kw)
    reply = await bot.wait_for_text(GROUP, "one again")
    assert reply.message_thread_id == 11
    assert [m["content"] for m in bot.provider_history()] == [
        "in topic 11", "topic one", "again 11"
    ]


async def test_allow_list_refuses_others_in_one_line(make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot(allowed_user_ids="42", admin_user_ids="43")
    await bot.start()
    bot.providers.push("openai", Reply("for 42"), Reply("for admin"))
    bot.telegram.send_message(999, "let me in")
    refusal = await bot.wait_for_containing(999, "Sorry, this bot is private")
    assert "\n" not in refusal.text and "999" in refusal.text
    bot.telegram.send_message(42, "hello")
    await bot.wait_for_text(42, "for 42")
    bot.telegram.send_message(43, "hello")
    await bot.wait_for_text(43, "for admin")
    assert len(bot.providers.requests_for("openai")) == 2


async def test_failing_provider_falls_back_to_the_next_one(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply(status=500, body='{"error":{"message":"overloaded"}}'))
    bot.providers.push("ai365vip", Reply("Fallback answer.\n"))
    bot.telegram.send_message(CHAT, "/model gpt-4o")
    await bot.wait_for_containing(CHAT, "Model switched to gpt-4o")
    bot.telegram.send_message(CHAT, "hello")
    await bot.wait_for_text(CHAT, "Fallback answer.")
    assert len(bot.providers.requests_for("openai")) == 1


async def test_all_providers_failing_gives_a_clear_message(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply(status=503, body='{"error":{"message":"down for maintenance"}}'))
    bot.telegram.send_message(CHAT, "hello")
    notice = await bot.wait_for_containing(CHAT, "gpt-4o-mini failed")
    assert "/retry" in notice.text and "OpenAI: the provider is down (HTTP 503)" in notice.text
    assert "maintenance" not in notice.text  # the provider's own text goes to the log only
    # /retry then works and the history holds one user message, not two.
    bot.providers.push("openai", Reply("Back again."))
    bot.telegram.send_message(CHAT, "/retry")
    await bot.wait_for_text(CHAT, "Back again.")
    assert bot.provider_history() == [
        {"role": "user", "content": "hello"}
    ]


async def test_provider_failing_midway_keeps_the_text_and_says_so(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("This answer will be cut " * 10, delta_chars=5, cut=True))
    bot.telegram.send_message(CHAT, "hello")
    notice = await bot.wait_for_containing(CHAT, "stopped answering midway")
    assert "/retry" in notice.text and "gpt-4o-mini" in notice.text
    partial = bot.telegram.bot_messages(CHAT)[0].text
    assert partial and ("This answer will be cut " * 10).startswith(partial)


async def test_malformed_stream_gives_a_clear_message(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply(body=b"data: {not json}\n\n", content_type="text/event-stream"))
    bot.telegram.send_message(CHAT, "hello")
    notice = await bot.wait_for_containing(CHAT, "gpt-4o-mini failed")
    assert "/retry" in notice.text


async def test_failing_image_model_gives_a_clear_message(bot: RunningBot) -> None:
    bot.providers.push("aichats", Reply(status=500, body="Internal Server Error"))
    bot.telegram.send_message(CHAT, "/model dalle")
    await bot.wait_for_containing(CHAT, "Model switched to dalle")
    bot.telegram.send_message(CHAT, "a cat")
    notice = await bot.wait_for_containing(CHAT, "dalle failed")
    assert "/retry" in notice.text
    assert not [m for m in bot.telegram.bot_messages(CHAT) if m.kind == "photo"]
