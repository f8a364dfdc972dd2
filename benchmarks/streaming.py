"""Streaming benchmark: what a user sees when N chats talk to the bot at once.

Starts the bot as in production (``python -m bot`` in its own process, a fresh SQLite file)
against the tests' fake Bot API server with flood control on (per private chat 1 write/s with
bursts of 3, per group 20 writes/min with bursts of 5, per bot 30 writes/s; 429 with
``retry_after`` beyond) and the fake OpenAI-compatible server, which streams a fixed reply of
``--reply-chars`` characters over ``--stream-seconds`` seconds, answering at once. N chats send
K turns each, in one of two arrival patterns:

- ``lockstep``: every chat sends its first message at once, and the next one as soon as its
  reply is complete on screen (the worst burst);
- ``realistic``: each chat sends its first message 0-3 s after the start and the next one
  1-3 s after its reply is complete (uniformly random, from ``--seed``: the same run twice
  sends at the same times).

For each run it prints:

- first visible text: seconds from the update to the first message of the reply (p50, p95);
- complete: seconds from the provider's last chunk to the whole reply on screen (p50, p95);
- done: seconds from the update to the whole reply on screen (p50, p95): what the user waits
  for in all (a reply started sooner can end together with more others, and wait longer
  after its last chunk for its final text to be written);
- Bot API writes per reply, 429 answers received, replies never completed;
- the bot's CPU seconds per reply over the message phase only (its whole process tree: the
  bot and any child it started), its resident set (whole tree, MiB) after start-up and at the
  end, and its peak.

Start-up is reported apart (``--startups N``): CPU seconds and wall seconds from launching
``python -m bot`` to its first ``getUpdates``, and the resident set then, for a first start
(empty database) and for restarts (database at the newest revision, the usual case).

Usage: ``python -m benchmarks.streaming`` (the standard runs and the start-up table) or
``python -m benchmarks.streaming --chats 20 --turns 3 [--groups] [--arrival realistic]``
(one run). Times come from one clock (the fakes run in this process): they are numbers to
read, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.process import peak_rss_mib, tree_cpu_seconds
from benchmarks.startup import (
    MODEL,
    PYTHON,
    ROOT,
    StartupResult,
    bot_env,
    log_file,
    start_bot,
    startup_table,
    startups,
    stop_bot,
)
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

# Re-exported: callers import these from here.
__all__ = [
    "MODEL", "PYTHON", "ROOT", "StartupResult", "bot_env", "peak_rss_mib", "start_bot",
    "startup_table", "startups", "stop_bot",
]

WRITES = {"sendMessage", "editMessageText"}
ARRIVALS = ("lockstep", "realistic")
BOT_WRITES_PER_SECOND = 30  # the fake Bot API's bot-wide limit: the floor of a large run


@dataclass(frozen=True)
class RunSpec:
    """One run of the standard set: chats at once, turns each, group chats, arrival pattern."""

    chats: int
    turns: int
    groups: bool = False
    arrival: str = "lockstep"


STANDARD_RUNS = [
    RunSpec(1, 5),
    RunSpec(20, 2),
    RunSpec(20, 2, groups=True),
    RunSpec(20, 2, arrival="realistic"),
    RunSpec(100, 2, arrival="realistic"),
    RunSpec(1000, 1),
]


@dataclass
class Turn:
    chat_id: int
    index: int
    prompt: str
    sent_at: float
    message_from: int  # the first message id of this turn's reply is above this
    first_visible: float | None = None
    complete_at: float | None = None
    last_chunk_at: float | None = None


@dataclass
class RunResult:
    chats: int
    turns: int
    groups: bool
    reply_chars: int
    arrival: str = "lockstep"
    first: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    writes_per_reply: float = 0.0
    answers_429: int = 0
    chat_429: int = 0  # of those, answers where the chat's own bucket was empty (replayed)
    never_completed: int = 0
    cpu_per_reply: float = 0.0  # CPU seconds of the bot's process tree over the message phase
    peak_rss_mib: float = 0.0  # the whole tree's, start-up included
    wall: float = 0.0  # seconds of the message phase
    startup_cpu: float = 0.0  # CPU seconds from launch to the first getUpdates
    startup_wall: float = 0.0  # seconds from launch to the first getUpdates
    rss_after_start_mib: float = 0.0  # the tree's resident set at the first getUpdates
    rss_end_mib: float = 0.0  # the tree's resident set once every reply is complete
    done: list[float] = field(default_factory=list)  # seconds from the update to the complete reply
    stream_seconds: float = 0.0

    @property
    def floor(self) -> float:
        """Seconds after the updates by which 95 % of the replies can be complete at best: the
        provider's stream, then 95 % of the final texts (one write each) at the bot-wide limit."""
        return self.stream_seconds + 0.95 * self.chats * self.turns / BOT_WRITES_PER_SECOND


def reply_text(chars: int) -> str:
    words, size, i = [], 0, 0
    while size < chars:
        word = f"word{i}"
        words.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(words)[:chars].rstrip()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


class ReplyWatcher:
    """Checks a chat's reply only when a write to that chat was answered: one loop for every
    chat, so a 1,000-chat run does not spend the machine's CPU on 1,000 polling waiters."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram
        self.seen = 0
        self.pending: dict[int, tuple[Callable[[], bool], asyncio.Future[None]]] = {}

    def expect(self, chat_id: int, visible: Callable[[], bool]) -> asyncio.Future[None]:
        """A future set once ``visible()`` is true, checked after each write to ``chat_id``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending[chat_id] = (visible, future)
        return future

    async def run(self) -> None:
        calls = self.telegram.calls
        while True:
            await self.telegram.wait_for(lambda: len(calls) > self.seen, timeout=86400)
            fresh, self.seen = calls[self.seen:], len(calls)
            written = {c.chat_id for c in fresh if c.method in WRITES and c.chat_id is not None}
            for chat_id in written:
                entry = self.pending.get(chat_id)
                if entry is not None and entry[0]():
                    del self.pending[chat_id]
                    entry[1].set_result(None)


def pauses(chats: list[int], turns: int, arrival: str, seed: int) -> dict[int, list[float]]:
    """Seconds each chat waits before each turn: 0 in lock-step; realistic: 0-3 s before the
    first, 1-3 s after each reply (uniform, from ``seed`` and the chat id)."""
    if arrival == "lockstep":
        return {chat_id: [0.0] * turns for chat_id in chats}
    waits = {}
    for chat_id in chats:
        rng = random.Random(seed * 1_000_003 + chat_id)
        waits[chat_id] = [rng.uniform(0, 3) if i == 0 else rng.uniform(1, 3) for i in range(turns)]
    return waits


async def run(
    chats: int,
    turns: int,
    *,
    groups: bool = False,
    reply_chars: int = 1500,
    stream_seconds: float = 3.0,
    delta_chars: int = 20,
    timeout: float = 120.0,
    arrival: str = "lockstep",
    seed: int = 1,
    bot_root: Path | None = None,
) -> RunResult:
    text = reply_text(reply_chars)
    deltas = max(1, -(-len(text) // delta_chars))
    delay = stream_seconds / deltas
    result = RunResult(chats, turns, groups, reply_chars, arrival, stream_seconds=stream_seconds)
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        fake.default["openai"] = Reply(text, delta_chars=delta_chars, delay=delay)
        with tempfile.TemporaryDirectory() as tmp:
            env = bot_env(telegram, fake, f"{tmp}/bench.db", bot_root)
            err = Path(tmp, "stderr")
            with log_file(err) as stderr:
                process, sampler, start = await start_bot(telegram, env, tmp, stderr)
            result.startup_cpu, result.startup_wall = start.cpu, start.wall
            result.rss_after_start_mib = start.rss_mib
            watcher = ReplyWatcher(telegram)
            watching = asyncio.create_task(watcher.run())
            try:
                async with sampler.running():
                    cpu_before = tree_cpu_seconds(sampler.process)
                    started = time.monotonic()
                    chat_ids = [(-(1000 + i) if groups else 1000 + i) for i in range(chats)]
                    waits = pauses(chat_ids, turns, arrival, seed)
                    all_turns = await asyncio.gather(
                        *(
                            converse(telegram, chat_id, turns, text, groups, timeout,
                                      watcher=watcher, pauses=waits[chat_id])
                            for chat_id in chat_ids
                        )
                    )
                    result.wall = time.monotonic() - started
                    cpu = tree_cpu_seconds(sampler.process) - cpu_before
                    result.rss_end_mib = sampler.sample()
                result.peak_rss_mib = sampler.peak()
            finally:
                watching.cancel()
                await stop_bot(process, err)
    replies = tally(result, fake, telegram, all_turns)
    result.cpu_per_reply = cpu / max(1, replies)
    return result


def tally(
    result: RunResult, fake: FakeProviders, telegram: FakeTelegram, all_turns: list[list[Turn]]
) -> int:
    """Fill ``result``'s per-turn times, never-completed count, writes per reply and 429
    counts from what the fakes saw; returns how many turns were started."""
    done = [t for ts in all_turns for t in ts]
    _last_chunks(fake, done)
    replies = len(done)
    for turn in done:
        if turn.first_visible is not None:
            result.first.append(turn.first_visible - turn.sent_at)
        if turn.complete_at is None:
            result.never_completed += 1
            continue
        result.done.append(turn.complete_at - turn.sent_at)
        if turn.last_chunk_at is not None:
            result.complete.append(max(0.0, turn.complete_at - turn.last_chunk_at))
    # turns never started after a failure
    result.never_completed += result.chats * result.turns - replies
    writes = [c for c in telegram.calls if c.method in WRITES and c.status == 200]
    result.writes_per_reply = len(writes) / max(1, replies)
    result.answers_429 = telegram.count_429()
    result.chat_429 = chat_limited_429s(telegram)
    return replies


async def converse(
    telegram: FakeTelegram,
    chat_id: int,
    turns: int,
    text: str,
    groups: bool,
    timeout: float,
    *,
    watcher: ReplyWatcher | None = None,
    pauses: list[float] | None = None,
) -> list[Turn]:
    done: list[Turn] = []
    expected = " ".join(text.split())
    for index in range(turns):
        if pauses and pauses[index] > 0:
            await asyncio.sleep(pauses[index])
        prompt = f"chat {chat_id} turn {index}"
        before = max((m.message_id for m in telegram.messages(chat_id)), default=0)
        if groups:
            mention = "@test_llm_bot "
            telegram.send_message(
                chat_id, mention + prompt, chat_type="group", title="Bench", user_id=7,
                entities=[{"type": "mention", "offset": 0, "length": len(mention) - 1}],
            )
        else:
            telegram.send_message(chat_id, prompt)
        turn = Turn(chat_id, index, prompt, time.monotonic(), before)
        done.append(turn)

        def reply_messages(turn: Turn = turn) -> list[Any]:
            return [m for m in telegram.bot_messages(chat_id) if m.message_id > turn.message_from]

        def visible(turn: Turn = turn) -> bool:
            messages = reply_messages(turn)
            if messages and turn.first_visible is None:
                turn.first_visible = messages[0].sent_at
            shown = " ".join(" ".join(m.text or "" for m in messages).split())
            return shown == expected

        try:
            if watcher is None:
                await telegram.wait_for(visible, timeout)
            else:
                await asyncio.wait_for(watcher.expect(chat_id, visible), timeout)
        except TimeoutError:
            if watcher is not None:
                watcher.pending.pop(chat_id, None)
            return done  # never completed: the next turns would not start either
        turn.complete_at = max(m.edited_at or m.sent_at for m in reply_messages())
    return done


def _last_chunks(fake: FakeProviders, turns: list[Turn]) -> None:
    """Match each turn to its provider request (by the prompt) and its last chunk's time."""
    by_prompt = {t.prompt: t for t in turns}
    for request in fake.requests_for("openai"):
        if not request.json or "messages" not in request.json:
            continue
        prompt = request.json["messages"][-1]["content"].removeprefix("@test_llm_bot").strip()
        turn = by_prompt.get(prompt)
        if turn is not None:
            turn.last_chunk_at = request.last_chunk_at


def chat_limited_429s(telegram: FakeTelegram) -> int:
    """How many 429 answers came while the chat's own bucket was empty (the rest: bot-wide).

    Replays the fake's per-chat buckets (``private_*`` / ``group_*`` burst and rate) over the
    recorded writes, at the server clock of each call.
    """
    buckets: dict[int, list[float]] = {}  # chat -> [tokens, stamp]
    found = 0
    for call in telegram.calls:
        if call.method not in WRITES or call.chat_id is None:
            continue
        private = call.chat_id > 0
        capacity = telegram.private_burst if private else telegram.group_burst
        rate = telegram.private_rate if private else telegram.group_rate
        tokens, stamp = buckets.get(call.chat_id, [capacity, call.time])
        tokens = min(capacity, tokens + (call.time - stamp) * rate)
        if call.status == 429 and tokens < 1:
            found += 1
        elif call.status == 200:
            tokens -= 1
        buckets[call.chat_id] = [tokens, call.time]
    return found


def table(results: list[RunResult]) -> str:
    header = (
        "| run | replies | first text p50 / p95 (s) | complete after last chunk p50 / p95 (s) "
        "| done after update p50 / p95 (s) "
        "| writes/reply | 429s (chat-limited) | never completed | bot CPU s/reply "
        "| RSS MiB after start / end / peak | wall s |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in results:
        kind = "group chats" if r.groups else "chats"
        lines.append(
            f"| {r.chats} {kind} x {r.turns} turns, {r.arrival} | {r.chats * r.turns} "
            f"| {percentile(r.first, 50):.3f} / {percentile(r.first, 95):.3f} "
            f"| {percentile(r.complete, 50):.3f} / {percentile(r.complete, 95):.3f} "
            f"| {percentile(r.done, 50):.3f} / {percentile(r.done, 95):.3f} "
            f"| {r.writes_per_reply:.2f} | {r.answers_429} ({r.chat_429} chat) "
            f"| {r.never_completed} "
            f"| {r.cpu_per_reply:.4f} | {r.rss_after_start_mib:.1f} / {r.rss_end_mib:.1f} "
            f"/ {r.peak_rss_mib:.1f} | {r.wall:.1f} |"
        )
    return "\n".join(lines)


def floor_lines(results: list[RunResult]) -> list[str]:
    """For one-turn lock-step runs of 100+ chats: seconds from the updates until 95 % of the
    replies are complete, against the best the bot-wide limit allows (:attr:`RunResult.floor`)."""
    lines = []
    for r in results:
        if r.chats >= 100 and r.arrival == "lockstep" and r.turns == 1:
            p95 = percentile(r.done, 95)
            lines.append(
                f"{r.chats} chats x 1 turn: 95 % of replies complete {p95:.2f} s after the "
                f"updates; floor {r.floor:.2f} s (the {r.stream_seconds:g} s stream, then 95 % "
                f"of {r.chats} final texts at {BOT_WRITES_PER_SECOND}/s): {p95 / r.floor:.2f}x"
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.streaming", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--chats", type=int, help="chats at once (default: the standard runs)")
    parser.add_argument("--turns", type=int, default=3, help="turns per chat")
    parser.add_argument("--groups", action="store_true", help="group chats instead of private ones")
    parser.add_argument("--arrival", choices=ARRIVALS, default="lockstep",
                        help="when each chat writes (see the module docstring)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the realistic arrival times")
    parser.add_argument("--reply-chars", type=int, default=1500, help="reply length, characters")
    parser.add_argument(
        "--stream-seconds", type=float, default=3.0, help="seconds the provider streams one reply"
    )
    parser.add_argument(
        "--delta-chars", type=int, default=20, help="characters per streamed delta (chunk)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for one reply"
    )
    parser.add_argument("--startups", type=int, default=None,
                        help="restarts measured for the start-up table (default: 3 with the "
                             "standard runs, 0 with --chats)")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up table")
    parser.add_argument("--bot-root", type=Path, default=None,
                        help="run the bot from this source tree (to compare two versions)")
    parser.add_argument("--python", help="interpreter that runs the bot, e.g. a venv's with only "
                        "the project's dependencies (`pip install .`), as in production")
    args = parser.parse_args(argv)
    if args.python:
        PYTHON["executable"] = args.python
    specs = (
        [RunSpec(args.chats, args.turns, args.groups, args.arrival)]
        if args.chats
        else STANDARD_RUNS
    )
    restarts = args.startups if args.startups is not None else (0 if args.chats else 3)
    starts = asyncio.run(startups(restarts, args.bot_root)) if restarts > 0 else []
    if starts:
        print(startup_table(starts), flush=True)
    if args.startup_only:
        return
    results = []
    for spec in specs:
        result = asyncio.run(
            run(spec.chats, spec.turns, groups=spec.groups, reply_chars=args.reply_chars,
                stream_seconds=args.stream_seconds, delta_chars=args.delta_chars,
                timeout=args.timeout, arrival=spec.arrival, seed=args.seed,
                bot_root=args.bot_root)
        )
        results.append(result)
        print(table([result]).splitlines()[-1], flush=True)
    print()
    print(f"replies of {args.reply_chars} characters streamed over {args.stream_seconds} s "
          f"in deltas of {args.delta_chars} characters")
    if starts:
        print(startup_table(starts))
        print()
    print(table(results))
    for line in floor_lines(results):
        print(line)
    if any(r.never_completed for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
