"""Flood control: exact token grants on a fake clock, priorities, penalties, and PTB's limiter hook."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.flood import FloodControl, Priority
from bot.flood_limiter import FloodRateLimiter, is_write, retry_after_seconds
from tests.fakes.telegram import FakeTelegram


class FakeTime:
    """A clock (seconds) and a sleep that only move when the test calls :meth:`advance`."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper due on the way, in order."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                self.now = max(self.now, due)
                future.set_result(None)
                await settle()
        self.now = target
        await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def flood_on(fake_time: FakeTime, **rates: float) -> FloodControl:
    return FloodControl(clock=fake_time.clock, sleep=fake_time.sleep, **rates)


class Grants:
    """Starts acquires as tasks and records (label, clock) at each grant."""

    def __init__(self, flood: FloodControl, fake_time: FakeTime) -> None:
        self.flood, self.fake_time = flood, fake_time
        self.log: list[tuple[str, float]] = []
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, label: str, chat_id: int | str | None, priority: Priority = Priority.FINAL,
              reserve: int = 0) -> asyncio.Task[None]:
        async def take() -> None:
            await self.flood.acquire(chat_id, priority, reserve=reserve)
            self.log.append((label, self.fake_time.now))

        task = asyncio.create_task(take())
        self.tasks.append(task)
        return task


async def test_private_chat_allows_a_burst_of_three_then_0_9_writes_per_second(fake_time: FakeTime) -> None:
    grants = Grants(flood_on(fake_time), fake_time)
    for i in range(5):
        grants.start(f"w{i}", 42)
    await fake_time.advance(10)
    assert [label for label, _ in grants.log] == ["w0", "w1", "w2", "w3", "w4"]
    assert [t for _, t in grants.log] == pytest.approx([0.0, 0.0, 0.0, 1 / 0.9, 2 / 0.9])


async def test_group_allows_a_burst_of_four_then_18_writes_per_minute(fake_time: FakeTime) -> None:
    grants = Grants(flood_on(fake_time), fake_time)
    for i in range(6):
        grants.start(f"w{i}", -100)
    await fake_time.advance(30)
    times = [t for _, t in grants.log]
    assert times[:4] == [0.0] * 4
    assert times[4:] == pytest.approx([60 / 18, 2 * 60 / 18])


async def test_a_channel_username_is_paced_like_a_group(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time)
    grants = Grants(flood, fake_time)
    for i in range(5):
        grants.start(f"w{i}", "@news")
    await fake_time.advance(1)
    assert len(grants.log) == 4
    assert flood.tokens("@news") == pytest.approx(0.3)


async def test_bot_bucket_caps_all_chats_at_a_burst_of_28_then_28_per_second(fake_time: FakeTime) -> None:
    grants = Grants(flood_on(fake_time), fake_time)
    for chat_id in range(1, 34):
        grants.start(str(chat_id), chat_id)
    await fake_time.advance(1)
    times = [t for _, t in grants.log]
    assert times[:28] == [0.0] * 28
    assert times[28:] == pytest.approx([k / 28 for k in range(1, 6)])


async def test_bot_tokens_go_to_answer_final_first_then_edit_fifo_within_a_priority(fake_time: FakeTime) -> None:
    grants = Grants(flood_on(fake_time, bot_burst=1, bot_rate=1.0), fake_time)
    grants.start("warm-up", 1)
    await settle()  # the bot bucket is empty now
    grants.start("edit", 2, Priority.EDIT)
    grants.start("first-a", 3, Priority.FIRST)
    grants.start("final-a", 4, Priority.FINAL)
    grants.start("first-b", 5, Priority.FIRST)
    grants.start("final-b", 6, Priority.FINAL)
    grants.start("help-answer", 7, Priority.ANSWER)  # asked last, granted first
    await fake_time.advance(10)
    assert grants.log == [
        ("warm-up", 0.0), ("help-answer", 1.0), ("final-a", 2.0), ("final-b", 3.0), ("first-a", 4.0),
        ("first-b", 5.0), ("edit", 6.0),
    ]


async def test_a_waiter_blocked_by_its_own_chat_does_not_hold_up_other_chats(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time)
    grants = Grants(flood, fake_time)
    flood.penalize(7, 5)
    grants.start("final-in-blocked-chat", 7, Priority.FINAL)
    grants.start("edit-elsewhere", 8, Priority.EDIT)
    await fake_time.advance(6)
    assert grants.log == [("edit-elsewhere", 0.0), ("final-in-blocked-chat", 5.0)]


async def test_reserve_waits_until_the_chat_keeps_tokens_for_later(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time, private_rate=1.0)
    grants = Grants(flood, fake_time)
    grants.start("first", 9, Priority.FIRST)
    await settle()
    grants.start("edit", 9, Priority.EDIT, reserve=2)
    await fake_time.advance(0.5)
    assert [label for label, _ in grants.log] == ["first"]  # two tokens left: both are kept
    await fake_time.advance(1)
    assert grants.log == [("first", 0.0), ("edit", 1.0)]
    assert flood.tokens(9) == pytest.approx(2.5)  # the reserve is still there
    grants.start("final", 9, Priority.FINAL)
    grants.start("next-first", 9, Priority.FIRST)
    await settle()
    assert grants.log[2:] == [("final", 1.5), ("next-first", 1.5)]


async def test_reserve_is_capped_by_the_bucket_capacity(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time)
    await flood.acquire(-5, Priority.EDIT, reserve=10)  # a full group bucket (4) is enough
    assert flood.tokens(-5) == 3.0


async def test_penalize_blocks_the_chat_for_retry_after_and_empties_it(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time)
    grants = Grants(flood, fake_time)
    flood.penalize(11, 3)
    assert flood.tokens(11) == 0.0
    grants.start("after-429", 11)
    await fake_time.advance(2.9)
    assert grants.log == []
    await fake_time.advance(0.2)
    assert grants.log == [("after-429", 3.0)]
    assert flood.tokens(22) == 3.0  # other chats are not affected


async def test_cancelled_waiters_take_nothing(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time, private_burst=1, private_rate=1.0)
    grants = Grants(flood, fake_time)
    grants.start("a", 5)
    await settle()
    waiting = grants.start("b", 5)
    await settle()
    waiting.cancel()
    grants.start("c", 5)
    await fake_time.advance(3)
    assert grants.log == [("a", 0.0), ("c", 1.0)]


async def test_refund_gives_the_tokens_back(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time)
    for _ in range(3):
        await flood.acquire(3)
    assert flood.tokens(3) == 0.0
    flood.refund(3)
    assert flood.tokens(3) == 1.0
    assert flood.tokens(None) == 26.0  # the bot bucket: 28 - 3 + 1


async def test_forgetting_idle_chats_keeps_penalties(fake_time: FakeTime) -> None:
    flood = flood_on(fake_time)
    flood.penalize(5, 60)
    for chat_id in range(6, 2100):  # enough chats to make it forget the idle, full ones
        flood.tokens(chat_id)
    await flood.acquire(7)
    assert flood.tokens(5) == 0.0  # still blocked
    assert flood.tokens(7) == 2.0
    await fake_time.advance(60)
    assert flood.tokens(5) == 3.0


def test_writes_are_message_creating_or_editing_methods() -> None:
    assert is_write("sendMessage") and is_write("editMessageText") and is_write("sendPhoto")
    assert is_write("copyMessage") and is_write("sendMessageDraft")
    assert not is_write("sendChatAction")
    assert not is_write("getUpdates") and not is_write("answerCallbackQuery") and not is_write("setMyCommands")


def test_retry_after_seconds_reads_ints_and_timedeltas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    assert retry_after_seconds(RetryAfter(7)) == 7.0


# ---- the PTB rate limiter, with a real ExtBot against the fake Bot API server ----------------


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegram]:
    # flood control on, real clock; private chats 10x faster than Telegram to keep the test short
    async with FakeTelegram(private_rate=10.0) as server:
        yield server


async def limited_bot(server: FakeTelegram, flood: FloodControl, **limiter: int) -> ExtBot:
    bot = ExtBot(server.token, base_url=server.base_url, base_file_url=server.base_file_url,
                 rate_limiter=FloodRateLimiter(flood, **limiter))
    await bot.initialize()
    return bot


async def test_limiter_paces_a_burst_of_answers_without_a_429(fake_tg: FakeTelegram) -> None:
    fake_tg.send_message(501, "hi")
    bot = await limited_bot(fake_tg, FloodControl(private_rate=9.0))
    try:
        await asyncio.gather(*(bot.send_message(501, f"answer {i}") for i in range(5)))
        await bot.send_chat_action(501, "typing")  # not a write: never paced
    finally:
        await bot.shutdown()
    assert fake_tg.count_429() == 0
    assert sorted(m.text for m in fake_tg.bot_messages(501)) == [f"answer {i}" for i in range(5)]


async def test_limiter_retries_a_write_answered_429(fake_tg: FakeTelegram) -> None:
    fake_tg.send_message(502, "hi")
    fake_tg.set_failure("sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1)
    flood = FloodControl()
    bot = await limited_bot(fake_tg, flood)
    try:
        message = await bot.send_message(502, "after the flood")
    finally:
        await bot.shutdown()
    assert message.text == "after the flood"
    statuses = [c.status for c in fake_tg.calls_for("sendMessage", 502)]
    assert statuses == [429, 200]


async def test_limiter_gives_up_after_max_retries(fake_tg: FakeTelegram) -> None:
    fake_tg.send_message(503, "hi")
    fake_tg.set_failure("sendMessage", status=429, description="Too Many Requests: retry after 1",
                        retry_after=1, times=2)
    bot = await limited_bot(fake_tg, FloodControl(), max_retries=1)
    try:
        with pytest.raises(RetryAfter):
            await bot.send_message(503, "never")
    finally:
        await bot.shutdown()
    assert [c.status for c in fake_tg.calls_for("sendMessage", 503)] == [429, 429]


async def test_paced_calls_pass_straight_through(fake_tg: FakeTelegram) -> None:
    fake_tg.send_message(504, "hi")
    flood = FloodControl()
    bot = await limited_bot(fake_tg, flood)
    try:
        await bot.send_message(504, "paced", rate_limit_args={"paced": True})
    finally:
        await bot.shutdown()
    assert flood.tokens(504) == 3.0  # nothing was taken: the caller acquired its own tokens
    assert [m.text for m in fake_tg.bot_messages(504)] == ["paced"]


async def test_limiter_sends_a_command_answer_before_queued_replies(
    fake_tg: FakeTelegram, fake_time: FakeTime
) -> None:
    """A write made through the limiter without a priority (a command's answer, e.g. /help) takes
    the next bot token before the final texts and edits of replies that were waiting already."""
    fake_tg.send_message(505, "/help")
    flood = flood_on(fake_time, bot_burst=1, bot_rate=1.0)
    grants = Grants(flood, fake_time)
    bot = await limited_bot(fake_tg, flood)
    try:
        grants.start("warm-up", 1)
        await settle()  # the bot bucket is empty now
        grants.start("final", 2, Priority.FINAL)
        grants.start("edit", 3, Priority.EDIT)
        await settle()
        answer = asyncio.create_task(bot.send_message(505, "I answer with a large language model."))
        await settle()
        await fake_time.advance(1)  # one bot token: it goes to the answer
        await asyncio.wait_for(answer, 10)
        assert grants.log == [("warm-up", 0.0)]
        await fake_time.advance(2)
        assert grants.log == [("warm-up", 0.0), ("final", 2.0), ("edit", 3.0)]
    finally:
        await bot.shutdown()
    assert [m.text for m in fake_tg.bot_messages(505)] == ["I answer with a large language model."]


# ---- the bot-wide reserve: intermediate edits leave the burst to first and final texts ----------


async def test_edits_in_step_leave_the_burst_to_the_next_first_texts(fake_time: FakeTime) -> None:
    # 20 chats edit at once, then 20 other chats' first texts arrive: the first texts all go at
    # once (the edits took only the refill), the edits follow one per bot token.
    grants = Grants(flood_on(fake_time), fake_time)
    for chat_id in range(1, 21):
        grants.start(f"edit-{chat_id}", chat_id, Priority.EDIT)
    await settle()
    for chat_id in range(101, 121):
        grants.start(f"first-{chat_id}", chat_id, Priority.FIRST)
    await settle()
    at_once = [label for label, t in grants.log if t == 0.0]
    assert sorted(at_once) == sorted(["edit-1"] + [f"first-{c}" for c in range(101, 121)])
    await fake_time.advance(2)
    assert len(grants.log) == 40  # every edit went too, in order
    assert [label for label, _ in grants.log if label.startswith("edit")] == [
        f"edit-{c}" for c in range(1, 21)
    ]


async def test_final_texts_after_edits_find_the_burst(fake_time: FakeTime) -> None:
    grants = Grants(flood_on(fake_time), fake_time)
    for chat_id in range(1, 21):
        grants.start(f"edit-{chat_id}", chat_id, Priority.EDIT)
    await fake_time.advance(0.25)  # the edits are spread over the refill meanwhile
    edits_so_far = len(grants.log)
    assert edits_so_far < 20
    for chat_id in range(101, 121):
        grants.start(f"final-{chat_id}", chat_id, Priority.FINAL)
    await settle()
    finals_at_once = [label for label, t in grants.log if t == 0.25 and label.startswith("final")]
    assert len(finals_at_once) == 20


async def test_edits_alone_still_get_the_whole_bot_rate(fake_time: FakeTime) -> None:
    # The reserve takes no throughput from edits: with nothing else waiting, one edit per refilled
    # token (28 per second), never a burst.
    grants = Grants(flood_on(fake_time), fake_time)
    for chat_id in range(1, 51):
        grants.start(str(chat_id), chat_id, Priority.EDIT)
    await fake_time.advance(2)
    times = [t for _, t in grants.log]
    assert times == pytest.approx([k / 28 for k in range(50)])


async def test_edit_bot_reserve_is_a_setting_and_capped_by_the_burst(fake_time: FakeTime) -> None:
    no_reserve = Grants(flood_on(fake_time, edit_bot_reserve=0), fake_time)
    for chat_id in range(1, 29):
        no_reserve.start(str(chat_id), chat_id, Priority.EDIT)
    await settle()
    assert len(no_reserve.log) == 28  # the old behaviour: edits may take the whole burst
    capped = Grants(flood_on(fake_time, edit_bot_reserve=100), fake_time)
    capped.start("edit", 1, Priority.EDIT)
    await settle()
    assert capped.log == [("edit", fake_time.now)]  # a full bot bucket always suffices


async def test_a_waiting_edit_gives_way_to_its_final_text(fake_time: FakeTime) -> None:
    # The reply streamer cancels a waiting edit when its source ends and acquires at FINAL: the
    # final text goes at once, the edit is never sent (the final text supersedes it).
    flood = flood_on(fake_time, bot_burst=3, bot_rate=1.0)
    grants = Grants(flood, fake_time)
    grants.start("first-a", 1, Priority.FIRST)
    await settle()
    edit = grants.start("edit-b", 2, Priority.EDIT)  # needs a full bucket: 3 tokens
    await settle()
    edit.cancel()
    grants.start("final-b", 2, Priority.FINAL)
    await fake_time.advance(5)
    assert grants.log == [("first-a", 0.0), ("final-b", 0.0)]
