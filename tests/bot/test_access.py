"""Who may do what: refusals to users not allowed are rate-limited per user (defect 6)."""

from __future__ import annotations

from collections.abc import Callable

from bot.access import RefusalLimiter
from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply

GROUP = -1005001
ALLOWED, OUTSIDER = 42, 66
MENTION = [{"type": "mention", "offset": 0, "length": 13}]
REFUSAL = "Sorry, this bot is private"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_refusal_per_user_per_interval() -> None:
    clock = Clock()
    refusals = RefusalLimiter(600, timer=clock)
    assert refusals.should_refuse(OUTSIDER)
    assert not refusals.should_refuse(OUTSIDER)  # ignored: refused a moment ago
    assert refusals.should_refuse(OUTSIDER + 1)  # another user is refused once too
    clock.now = 599.0
    assert not refusals.should_refuse(OUTSIDER)
    clock.now = 600.0
    assert refusals.should_refuse(OUTSIDER)  # the interval has passed
    assert not refusals.should_refuse(OUTSIDER)


def test_an_interval_of_zero_refuses_every_message() -> None:
    refusals = RefusalLimiter(0)
    assert all(refusals.should_refuse(OUTSIDER) for _ in range(3))


def test_the_users_remembered_are_bounded() -> None:
    clock = Clock()
    refusals = RefusalLimiter(600, max_users=2, timer=clock)
    assert refusals.should_refuse(1) and refusals.should_refuse(2) and refusals.should_refuse(3)
    assert not refusals.should_refuse(3)  # the newest are remembered; the oldest may be forgotten


async def test_a_flood_from_an_outsider_gets_one_refusal_and_costs_no_other_write(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(allowed_user_ids=str(ALLOWED))
    await bot.start()
    bot.providers.push("openai", Reply("hello, allowed user"))
    tg = bot.telegram
    for i in range(30):
        tg.send_message(GROUP, f"@test_llm_bot spam {i}", chat_type="supergroup",
                        user_id=OUTSIDER, entities=MENTION)
    # The group's messages are handled in order: when this one is answered, the 30 were handled.
    tg.send_message(GROUP, "@test_llm_bot hi", chat_type="supergroup", user_id=ALLOWED,
                    entities=MENTION)
    await bot.wait_for_text(GROUP, "hello, allowed user", timeout=30)

    refusals = [text for text in bot.bot_texts(GROUP) if text.startswith(REFUSAL)]
    assert refusals == [f"{REFUSAL} (your user id is {OUTSIDER})."]
    writes = [c for c in tg.calls_for("sendMessage", GROUP) if c.status == 200]
    assert len(writes) == 2  # the refusal and the allowed user's reply, nothing else
    assert len(bot.providers.requests_for("openai")) == 1
