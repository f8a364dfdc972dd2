"""Streaming benchmark: what a user sees when N chats talk to the bot at once.

Starts the bot as in production (``python -m bot`` in its own process, a fresh SQLite file)
against the tests' fake Bot API server with flood control on (per private chat 1 write/s with
bursts of 3, per group 20 writes/min with bursts of 5, per bot 30 writes/s; 429 with
``retry_after`` beyond) and the fake OpenAI-compatible server, which streams a fixed reply of
``--reply-chars`` characters over ``--stream-seconds`` seconds, answering at once. N chats send
K turns each (a turn starts when the previous reply is complete on screen) and it prints:

- first visible text: seconds from the update to the first message of the reply (p50, p95);
- complete: seconds from the provider's last chunk to the whole reply on screen (p50, p95);
- Bot API writes per reply, 429 answers received, replies never completed;
- the bot process's CPU seconds per reply and its peak RSS (VmHWM, MiB).

Usage: ``python -m benchmarks.streaming`` (the four standard runs) or
``python -m benchmarks.streaming --chats 20 --turns 3 [--groups]``. Times come from one clock
(the fakes run in this process): they are numbers to read, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-model"
WRITES = {"sendMessage", "editMessageText"}
STANDARD_RUNS = [(1, 5, False), (20, 3, False), (200, 2, False), (20, 3, True)]


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
    first: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    writes_per_reply: float = 0.0
    answers_429: int = 0
    never_completed: int = 0
    cpu_per_reply: float = 0.0
    peak_rss_mib: float = 0.0
    wall: float = 0.0


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


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size of a process (Linux VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(
    chats: int,
    turns: int,
    *,
    groups: bool = False,
    reply_chars: int = 1500,
    stream_seconds: float = 3.0,
    delta_chars: int = 20,
    timeout: float = 120.0,
) -> RunResult:
    text = reply_text(reply_chars)
    deltas = max(1, -(-len(text) // delta_chars))
    delay = stream_seconds / deltas
    result = RunResult(chats, turns, groups, reply_chars)
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        fake.default["openai"] = Reply(text, delta_chars=delta_chars, delay=delay)
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OPENAI_"))
            }
            env.update(fake.env())
            env.update(
                PYTHONPATH=str(ROOT),
                TELEGRAM_BOT_TOKEN=telegram.token,
                TELEGRAM_API_BASE_URL=telegram.base_url,
                TELEGRAM_API_BASE_FILE_URL=telegram.base_file_url,
                DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.db",
                OPENAI_MODELS=MODEL,
                DEFAULT_MODEL=MODEL,
                LOG_LEVEL="WARNING",
            )
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", cwd=tmp, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
            try:
                await telegram.wait_for(lambda: bool(telegram.calls_for("setMyCommands")), 60)
                bot = psutil.Process(process.pid)
                cpu_before = sum(bot.cpu_times()[:2])
                started = time.monotonic()
                chat_ids = [(-(1000 + i) if groups else 1000 + i) for i in range(chats)]
                all_turns = await asyncio.gather(
                    *(
                        _converse(telegram, chat_id, turns, text, groups, timeout)
                        for chat_id in chat_ids
                    )
                )
                result.wall = time.monotonic() - started
                cpu = sum(bot.cpu_times()[:2]) - cpu_before
                result.peak_rss_mib = peak_rss_mib(process.pid)
            finally:
                process.terminate()
                _, err = await asyncio.wait_for(process.communicate(), 30)
            if process.returncode not in (0, -15):
                print(err.decode()[-2000:], file=sys.stderr)
    _last_chunks(fake, [t for ts in all_turns for t in ts])
    done = [t for ts in all_turns for t in ts]
    replies = len(done)
    for turn in done:
        if turn.first_visible is not None:
            result.first.append(turn.first_visible - turn.sent_at)
        if turn.complete_at is None:
            result.never_completed += 1
        elif turn.last_chunk_at is not None:
            result.complete.append(max(0.0, turn.complete_at - turn.last_chunk_at))
    writes = [c for c in telegram.calls if c.method in WRITES and c.status == 200]
    result.writes_per_reply = len(writes) / max(1, replies)
    result.answers_429 = telegram.count_429()
    result.cpu_per_reply = cpu / max(1, replies)
    return result


async def _converse(
    telegram: FakeTelegram, chat_id: int, turns: int, text: str, groups: bool, timeout: float
) -> list[Turn]:
    done: list[Turn] = []
    expected = " ".join(text.split())
    for index in range(turns):
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

        def reply_messages(turn: Turn = turn) -> list:
            return [m for m in telegram.bot_messages(chat_id) if m.message_id > turn.message_from]

        def visible(turn: Turn = turn) -> bool:
            messages = reply_messages()
            if messages and turn.first_visible is None:
                turn.first_visible = messages[0].sent_at
            shown = " ".join(" ".join(m.text or "" for m in messages).split())
            return shown == expected

        try:
            await telegram.wait_for(visible, timeout)
        except TimeoutError:
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


def table(results: list[RunResult]) -> str:
    header = (
        "| run | replies | first text p50 / p95 (s) | complete after last chunk p50 / p95 (s) "
        "| writes/reply | 429s | never completed | bot CPU s/reply | peak RSS MiB | wall s |"
    )
    lines = [header, "|" + "---|" * 10]
    for r in results:
        kind = "group chats" if r.groups else "chats"
        lines.append(
            f"| {r.chats} {kind} x {r.turns} turns | {r.chats * r.turns} "
            f"| {percentile(r.first, 50):.3f} / {percentile(r.first, 95):.3f} "
            f"| {percentile(r.complete, 50):.3f} / {percentile(r.complete, 95):.3f} "
            f"| {r.writes_per_reply:.2f} | {r.answers_429} | {r.never_completed} "
            f"| {r.cpu_per_reply:.4f} | {r.peak_rss_mib:.1f} | {r.wall:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.streaming", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--chats", type=int, help="chats at once (default: the four standard runs)")
    parser.add_argument("--turns", type=int, default=3, help="turns per chat")
    parser.add_argument("--groups", action="store_true", help="group chats instead of private ones")
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
    args = parser.parse_args(argv)
    runs = [(args.chats, args.turns, args.groups)] if args.chats else STANDARD_RUNS
    results = []
    for chats, turns, groups in runs:
        result = asyncio.run(
            run(chats, turns, groups=groups, reply_chars=args.reply_chars,
                stream_seconds=args.stream_seconds, delta_chars=args.delta_chars,
                timeout=args.timeout)
        )
        results.append(result)
        print(table([result]).splitlines()[-1], flush=True)
    print()
    print(f"replies of {args.reply_chars} characters streamed over {args.stream_seconds} s "
          f"in deltas of {args.delta_chars} characters")
    print(table(results))
    if any(r.never_completed for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
