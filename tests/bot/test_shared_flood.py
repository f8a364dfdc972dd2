"""One flood budget and ``/stop`` across OS processes (``FLOOD_BACKEND=redis``,
``STOP_BACKEND=redis``), with a real Redis server and the fake Bot API (which answers 429 when
Telegram's limits are exceeded).

Redis comes from ``TEST_REDIS_URL`` (``.ci/start-redis`` starts one); without it these tests are
skipped, unless ``REQUIRE_REDIS=1``: then they fail, as they do when it is unreachable. Each
test uses its own key namespace. The processes run :mod:`tests.bot.shared_worker`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.flood import FloodControl, Priority
from bot.handlers import NOTHING_RUNNING
from bot.lifecycle import namespace as namespace_of
from bot.redis_link import connect
from bot.shared_flood import SharedFloodControl
from bot.shared_stop import RedisStopSignals
from bot.stop_signals import StopOutcome
from bot.turns import RunningTurns
from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
BOT_RATE = 28.0  # bot.flood's default bot-wide rate (tokens per second), the workers'


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter without a deprecation warning


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


class Worker:
    """A :mod:`tests.bot.shared_worker` process, started and waiting for ``go``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, mode: str, config: dict[str, Any]) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bot.shared_worker", mode, json.dumps(config),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )
        worker = cls(process)
        assert await worker.line(timeout=20) == "ready"
        return worker

    async def line(self, timeout: float = 20) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        assert raw, f"the worker exited (code {await self.process.wait()})"
        return raw.decode().strip()

    async def event(self, timeout: float = 20) -> dict[str, Any]:
        event = json.loads(await self.line(timeout))
        self.events.append(event)
        return dict(event)

    def go(self, **config: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(config).encode() + b"\n")

    async def finish(self, timeout: float = 30) -> list[dict[str, Any]]:
        """Every event until the worker exits (successfully)."""
        assert self.process.stdout is not None
        out = await asyncio.wait_for(self.process.stdout.read(), timeout)
        self.events += [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        assert await self.process.wait() == 0
        return self.events

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


async def test_three_processes_share_one_budget(redis_url: str, namespace: str) -> None:
    """Three processes stream replies into 60 private chats (20 each) and 3 groups (all three
    write to each group), edits as fast as the flood control allows, then every reply's final
    text: processes A and B at ``final_at``, process C 2.5 s later. The fake Bot API never
    answers 429 (bot-wide, per chat, per group), no 1-s window holds more writes than
    Telegram's bot-wide limit (burst + rate), every final lands, and A's and B's finals go before C's edits
    (the edit reserve of the shared bot bucket): at most a few of C's edits (already granted)
    land while those finals wait."""
    async with FakeTelegram() as fake:
        groups = [-101, -102, -103]
        for chat in groups:
            fake.add_chat(chat, chat_type="group")
        configs = []
        for index in range(3):
            chats = list(range(1000 + 20 * index, 1020 + 20 * index)) + groups
            for chat in chats[:20]:
                fake.add_chat(chat)
            configs.append({"backend": "redis", "redis_url": redis_url, "namespace": namespace,
                            "token": fake.token, "base_url": fake.base_url, "chats": chats})
        workers: list[Worker] = []
        try:
            workers += await asyncio.gather(*(Worker.start("load", c) for c in configs))
            # 69 first messages take 1.5 s of it; edits need a full bot bucket (edit_bot_reserve),
            # which takes 1 s more; then edits go at the bot-wide rate.
            final_at = time.time() + 4.0
            for index, worker in enumerate(workers):
                worker.go(final_at=final_at + (2.5 if index == 2 else 0.0))
            events = [event for worker in workers for event in await worker.finish()]
            late_chats = set(configs[2]["chats"][:20])
        finally:
            for worker in workers:
                worker.kill()
        writes = [c for c in fake.calls if c.method in ("sendMessage", "editMessageText")]
        assert fake.count_429() == 0 and not [e for e in events if "retry_after" in e]
        finals = [e for e in events if "final" in e]
        assert len(finals) == 3 * 23  # every reply's final text landed
        assert sum(1 for c in writes if c.params["text"].startswith("final")) == 3 * 23
        times = sorted(c.time for c in writes)
        busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
        # Telegram's limit as the fake models it (bot.flood keeps 28/s, burst 28, below it; a
        # write reaches the server a few milliseconds after its token, so windows jitter).
        assert busiest <= fake.bot_burst + fake.bot_rate
        # The edits saturated the bot-wide budget: finals were asked for while edits were waiting.
        edits = [c for c in writes if c.params["text"].startswith("part ") and "message_id" in c.params]
        assert len(edits) > BOT_RATE
        early = [c for c in writes if c.params["text"].startswith("final") and c.chat_id not in late_chats and c.chat_id > 0]
        last_final = max(c.time for c in early)
        # the first final asked for, on the fake's clock (monotonic; the workers' is the wall's)
        first_asked = min(e["asked"] for e in finals) - (time.time() - time.monotonic())
        late_edits = [c for c in edits if c.chat_id in late_chats]
        assert [c for c in late_edits if c.time > first_asked + 2.0]  # C went on editing
        among_finals = [c for c in late_edits if first_asked < c.time < last_final]
        assert len(among_finals) <= 3  # at most a few granted before the finals were asked


async def test_a_429_seen_by_one_process_holds_back_the_others(
    redis_url: str, namespace: str
) -> None:
    """Process A's write to chat 7 gets a 429 with retry_after 2: process B's next write to
    chat 7 reaches Telegram no earlier than 2 s after it, while B's write to chat 8 goes at once."""
    async with FakeTelegram() as fake:
        fake.add_chat(7)
        fake.add_chat(8)
        base = {"backend": "redis", "redis_url": redis_url, "namespace": namespace,
                "token": fake.token, "base_url": fake.base_url}
        a = await Worker.start("penalize", {**base, "chat": 7})
        b = await Worker.start("send", {**base, "chats": [7, 8]})
        try:
            fake.set_failure("sendMessage", status=429, description="Too Many Requests: retry after 2", retry_after=2)
            a.go()
            assert await a.event() == {"penalized": 7, "retry_after": 2.0}
            await a.finish()
            b.go()
            await b.finish()
        finally:
            a.kill()
            b.kill()
        refused = fake.calls_for("sendMessage", chat_id=7)[0]
        assert refused.status == 429
        to_7 = [c for c in fake.calls_for("sendMessage", chat_id=7) if c.status == 200]
        to_8 = [c for c in fake.calls_for("sendMessage", chat_id=8) if c.status == 200]
        assert len(to_7) == len(to_8) == 1
        assert to_7[0].time - refused.time >= 2.0 - 0.05  # 50 ms: the clocks' rounding
        assert to_8[0].time < to_7[0].time


async def test_a_bot_wide_429_holds_back_every_chat_in_every_process(
    redis_url: str, namespace: str
) -> None:
    """A 429 of a write without a chat blocks the whole bot for the other flood controls too."""
    one = SharedFloodControl(connect(redis_url), namespace)
    other = SharedFloodControl(connect(redis_url), namespace)
    try:
        started = time.monotonic()  # before the block: a slow machine may pause in between
        await one.block(None, 0.5)
        await other.acquire(12345, Priority.ANSWER)
        assert time.monotonic() - started >= 0.45
    finally:
        await one.aclose()
        await other.aclose()


async def test_edits_leave_the_reserve_of_the_shared_bot_bucket(
    redis_url: str, namespace: str
) -> None:
    """With ``edit_bot_reserve=2`` of a 4-token bot bucket, an edit is granted only while 3
    tokens are left: after two finals (in another flood control) an edit waits, a final goes."""
    def limits() -> FloodControl:
        return FloodControl(bot_rate=0.5, bot_burst=4, edit_bot_reserve=2)

    one = SharedFloodControl(connect(redis_url), namespace, local=limits())
    other = SharedFloodControl(connect(redis_url), namespace, local=limits())
    try:
        await one.acquire(1, Priority.EDIT)  # 4 -> 3
        await other.acquire(2, Priority.FINAL)  # 3 -> 2
        edit = asyncio.create_task(one.acquire(3, Priority.EDIT))
        await asyncio.sleep(0.3)
        assert not edit.done()  # 2 tokens: an edit must leave 2 after its own
        await asyncio.wait_for(other.acquire(4, Priority.FINAL), 1)  # 2 -> 1
        edit.cancel()
    finally:
        await one.aclose()
        await other.aclose()


async def test_a_stop_in_one_process_stops_the_reply_written_in_another(
    redis_url: str, namespace: str
) -> None:
    """Process B writes a reply in chat 42 for user 5; ``/stop`` here (process A, where nothing
    runs) reaches it: a stop by user 6 finds it running and not theirs (it goes on), the
    moderator's stop ends it and drops B's waiting turn of message 99; a stop in a chat where
    nothing runs answers so without waiting for a timeout."""
    worker = await Worker.start("reply", {"redis_url": redis_url, "namespace": namespace,
                                          "chat": 42, "user": 5})
    signals = RedisStopSignals(connect(redis_url), namespace, RunningTurns(), timeout=5.0)
    await signals.start()
    try:
        worker.go()
        assert await worker.event() == {"running": True}
        not_theirs = await signals.stop((42, 0), before=None, user_id=6)
        assert not_theirs == StopOutcome(running=True, owner=5, stopped=False)
        stopped = await signals.stop((42, 0), before=100, user_id=None)
        assert stopped == StopOutcome(running=True, owner=5, stopped=True)
        event = await worker.event(timeout=5)
        assert event["stopped"] and event["dropped"]
        started = time.monotonic()
        assert await signals.stop((43, 0), before=None, user_id=None) == StopOutcome()
        assert time.monotonic() - started < 5.0  # every process answered: no timeout
        await worker.finish()
    finally:
        worker.kill()
        await signals.aclose()


async def test_the_bot_s_stop_reaches_a_reply_written_by_another_process(
    redis_url: str, make_bot: Callable[..., RunningBot]
) -> None:
    """The real bot (``serve``) with FLOOD_BACKEND=redis and STOP_BACKEND=redis answers through
    the shared budget, and a user's ``/stop`` sent to it ends the reply that another process
    (the worker) writes for that user, with no "nothing running" answer; once nothing runs
    anywhere, ``/stop`` says so."""
    bot = make_bot(flood_backend="redis", stop_backend="redis", redis_url=redis_url)
    chat = 4242
    worker = await Worker.start("reply", {"redis_url": redis_url, "chat": chat, "user": chat,
                                          "namespace": namespace_of(bot.settings)})
    try:
        await bot.start()
        bot.providers.push("openai", Reply("shared budget"))
        bot.telegram.send_message(chat, "hello", user_id=chat)
        await bot.wait_for_text(chat, "shared budget")
        worker.go()
        assert await worker.event() == {"running": True}
        bot.telegram.send_message(chat, "/stop", user_id=chat)
        assert (await worker.event(timeout=10))["stopped"]
        await worker.finish()
        bot.telegram.send_message(chat, "/stop", user_id=chat)
        await bot.wait_for_text(chat, NOTHING_RUNNING)
        assert bot.bot_texts(chat) == ["shared budget", NOTHING_RUNNING]  # one answer, the last
    finally:
        worker.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_redis(port: int) -> asyncio.subprocess.Process:
    """A Redis server of this test's own on ``port`` (stopped and started again by the test)."""
    process = await asyncio.create_subprocess_exec(
        REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", stdout=asyncio.subprocess.DEVNULL,
    )
    client = Redis(port=port)
    try:
        for _ in range(100):
            try:
                await client.ping()
                return process
            except RedisConnectionError:
                await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise AssertionError("redis-server did not start")


REDIS_SERVER = shutil.which("redis-server") or ""


@pytest.mark.skipif(not REDIS_SERVER, reason="redis-server is not installed (.ci/start-redis)")
async def test_without_redis_each_process_goes_on_alone_and_shares_again_when_it_returns(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops: writes are still paced (by the process's own flood control, same limits)
    and a /stop still stops this process's reply; no error reaches the caller. Redis starts
    again: the buckets are shared again and a /stop from another process arrives again (the
    listeners subscribe anew, also one that started while Redis was down)."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = await start_redis(port)
    turns = RunningTurns()
    flood = SharedFloodControl(connect(url), namespace)
    here = RedisStopSignals(connect(url), namespace, turns)
    there = RedisStopSignals(connect(url), namespace, RunningTurns())
    await here.start()
    await there.start()
    try:
        await flood.acquire(1, Priority.FINAL)
        server.kill()
        await server.wait()
        for _ in range(3):  # private chat: a burst of 3, from the local bucket now
            await flood.acquire(2, Priority.FINAL)
        assert 0.0 < flood.local.tokens(2) < 1.0
        assert "Redis is unreachable" in caplog.text
        with turns.running((5, 0), user_id=9) as turn:
            assert await here.stop((5, 0), before=None, user_id=None) == StopOutcome(True, 9, True)
            assert turn.stop.is_set()
        late_turns = RunningTurns()
        late = RedisStopSignals(connect(url), namespace, late_turns)
        await late.start()  # a process starting while Redis is down
        server = await start_redis(port)
        await flood.acquire(3, Priority.FINAL)  # Redis again: the shared bucket of chat 3
        assert await flood.redis.exists(f"{namespace}:flood:chat:3") == 1
        for running in (turns, late_turns):
            with running.running((6, 0), user_id=9) as turn:
                for _ in range(50):  # the listeners subscribe (again) within about a second
                    outcome = await there.stop((6, 0), before=None, user_id=None)
                    if outcome.stopped:
                        break
                    await asyncio.sleep(0.1)
                assert outcome == StopOutcome(True, 9, True) and turn.stop.is_set()
        await late.aclose()
    finally:
        await flood.aclose()
        await here.aclose()
        await there.aclose()
        server.kill()
        await server.wait()
