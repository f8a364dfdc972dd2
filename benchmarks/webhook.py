"""Webhook benchmark: the scaled setup (one ingress, 1 and 3 workers, PostgreSQL) under load.

Starts ``python -m bot webhook`` and N ``python -m bot worker`` processes (a fresh scratch
database next to ``--database-url``, default ``TEST_DATABASE_URL``) against the tests' fake Bot
API, which delivers every update by webhook (flood control on, as in
``benchmarks.streaming``), and the fake OpenAI-compatible server streaming a fixed reply. The
chats talk in lock-step: every chat sends its first message at once, the next as soon as its
reply is complete on screen.

For each run it prints the columns of ``benchmarks.streaming`` that apply (first visible text,
complete after the provider's last chunk, writes per reply, 429 answers, replies never
completed, CPU seconds per reply and resident set: summed over the ingress and the workers,
with their children), and:

- Bot API writes per second: the mean over the message phase and the most in any 1 s window
  (the bot-wide budget of one process's flood control is printed beside it);
- the ingress's acknowledgement time of Telegram's POSTs (p50, p95, milliseconds, measured by
  the fake Bot API from sending the request to reading the answer).

First it measures the ingress alone (``--ingress-posts``): updates POSTed one after another to
it in this process, without workers or the fake Bot API.

Usage: ``python -m benchmarks.webhook [--chats 30 --turns 3 --workers 1 3]``. Numbers to read,
not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from benchmarks.process import TreeSampler, tree_cpu_seconds
from benchmarks.streaming import (
    WRITES,
    ReplyWatcher,
    RunResult,
    converse,
    percentile,
    reply_text,
    tally,
)
from bot.flood import FloodControl
from bot.job_queue import job_app, psycopg_url
from bot.storage import Inbox, Store
from bot.webhook import SECRET_HEADER, WebhookIngress
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram
from tests.scale.deployment import Deployment
from tests.storage.conftest import PostgresScratch

MODEL = "bench-model"


@dataclass
class WebhookResult:
    workers: int
    run: RunResult
    writes_per_second: float = 0.0  # mean over the message phase
    max_writes_1s: int = 0  # the most writes answered 200 in any 1 s window
    ack_ms: tuple[float, float] = (0.0, 0.0)  # ingress acknowledgement p50, p95


def most_in_a_second(times: list[float]) -> int:
    """The most of ``times`` (seconds) that fall in any window of 1 s."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def shared_backends(redis_url: str) -> dict[str, str]:
    """The settings that give every worker one flood budget and one /stop (none without Redis)."""
    if not redis_url:
        return {}
    return {"FLOOD_BACKEND": "redis", "STOP_BACKEND": "redis", "REDIS_URL": redis_url}


async def run(
    workers: int,
    chats: int,
    turns: int,
    server_url: str,
    *,
    reply_chars: int,
    stream_seconds: float,
    delta_chars: int,
    timeout: float,
    redis_url: str = "",
) -> WebhookResult:
    text = reply_text(reply_chars)
    deltas = max(1, -(-len(text) // delta_chars))
    result = RunResult(chats, turns, False, reply_chars, stream_seconds=stream_seconds)
    scratch = PostgresScratch(server_url)
    database_url = await asyncio.to_thread(scratch.create_migrated)
    try:
        async with FakeTelegram() as telegram, FakeProviders() as fake:
            fake.models = [MODEL]  # what GET /models lists: the workers ask it at start
            fake.default["openai"] = Reply(
                text, delta_chars=delta_chars, delay=stream_seconds / deltas
            )
            with tempfile.TemporaryDirectory() as tmp:
                deployment = Deployment(
                    telegram, fake, database_url, Path(tmp), model=MODEL,
                    env={"WORKER_HEARTBEAT_INTERVAL": "2", "WORKER_STALLED_TIMEOUT": "10",
                         **shared_backends(redis_url)},
                )
                try:
                    launched = time.monotonic()
                    processes = [await deployment.start_ingress()]
                    for _ in range(workers):
                        processes.append(await deployment.start_worker())
                    result.startup_wall = time.monotonic() - launched
                    samplers = [TreeSampler(p.pid) for p in processes]
                    result.rss_after_start_mib = sum(s.sample() for s in samplers)
                    cpu_before = sum(tree_cpu_seconds(s.process) for s in samplers)
                    watcher = ReplyWatcher(telegram)
                    watching = asyncio.create_task(watcher.run())
                    sampling = [asyncio.create_task(_sample(s)) for s in samplers]
                    started = time.monotonic()
                    all_turns = await asyncio.gather(
                        *(
                            converse(telegram, 1000 + i, turns, text, False, timeout,
                                     watcher=watcher)
                            for i in range(chats)
                        )
                    )
                    result.wall = time.monotonic() - started
                    cpu = sum(tree_cpu_seconds(s.process) for s in samplers) - cpu_before
                    result.rss_end_mib = sum(s.sample() for s in samplers)
                    result.peak_rss_mib = sum(s.peak() for s in samplers)
                    watching.cancel()
                    for task in sampling:
                        task.cancel()
                finally:
                    await deployment.stop()
    finally:
        scratch.drop(database_url)
    replies = tally(result, fake, telegram, all_turns)
    result.cpu_per_reply = cpu / max(1, replies)
    writes = [c for c in telegram.calls if c.method in WRITES and c.status == 200]
    acks = [d.seconds * 1000 for d in telegram.webhook.deliveries] if telegram.webhook else []
    return WebhookResult(
        workers,
        result,
        writes_per_second=len(writes) / max(result.wall, 1e-9),
        max_writes_1s=most_in_a_second([c.time for c in writes]),
        ack_ms=(percentile(acks, 50), percentile(acks, 95)),
    )


async def ingress_alone(server_url: str, posts: int) -> tuple[float, float]:
    """The ingress in this process (no workers, no fake Bot API): ``posts`` updates POSTed one
    after another over loopback; their answer times' p50 and p95, in milliseconds."""
    scratch = PostgresScratch(server_url)
    database_url = await asyncio.to_thread(scratch.create_migrated)
    store = await Store.open(psycopg_url(database_url), migrate=False)
    ingress = WebhookIngress(
        Inbox(store), job_app(database_url), secret="s", path="/t", max_body_bytes=100_000
    )
    headers = {SECRET_HEADER: "s", "Content-Type": "application/json"}
    times = []
    try:
        async with TestClient(TestServer(ingress.web_app())) as client:
            for update_id in range(1, posts + 1):
                chat = 1000 + update_id % 30
                update = {"update_id": update_id, "message": {
                    "message_id": update_id, "date": 0, "text": "hi",
                    "chat": {"id": chat, "type": "private"}}}
                started = time.perf_counter()
                response = await client.post("/t", data=json.dumps(update), headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status == 200, response.status
    finally:
        await store.close()
        scratch.drop(database_url)
    return percentile(times, 50), percentile(times, 95)


async def _sample(sampler: TreeSampler) -> None:
    while True:
        sampler.sample()
        await asyncio.sleep(0.1)


def table(results: list[WebhookResult]) -> str:
    header = (
        "| run | replies | first text p50 / p95 (s) | complete after last chunk p50 / p95 (s) "
        "| writes/reply | 429s (chat-limited) | never completed | CPU s/reply (all processes) "
        "| RSS MiB after start / end / peak (sum) | wall s | writes/s mean / max in 1 s "
        "| ingress ack p50 / p95 (ms) |"
    )
    lines = [header, "|" + "---|" * 12]
    for w in results:
        r = w.run
        lines.append(
            f"| {r.chats} chats x {r.turns} turns, {w.workers} worker(s) | {r.chats * r.turns} "
            f"| {percentile(r.first, 50):.3f} / {percentile(r.first, 95):.3f} "
            f"| {percentile(r.complete, 50):.3f} / {percentile(r.complete, 95):.3f} "
            f"| {r.writes_per_reply:.2f} | {r.answers_429} ({r.chat_429} chat) "
            f"| {r.never_completed} | {r.cpu_per_reply:.4f} "
            f"| {r.rss_after_start_mib:.1f} / {r.rss_end_mib:.1f} / {r.peak_rss_mib:.1f} "
            f"| {r.wall:.1f} | {w.writes_per_second:.1f} / {w.max_writes_1s} "
            f"| {w.ack_ms[0]:.1f} / {w.ack_ms[1]:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.webhook", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--chats", type=int, default=30, help="chats at once")
    parser.add_argument("--turns", type=int, default=3, help="turns per chat")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3],
                        help="worker counts, one run each")
    parser.add_argument("--reply-chars", type=int, default=600, help="reply length, characters")
    parser.add_argument("--stream-seconds", type=float, default=2.0,
                        help="seconds the provider streams one reply")
    parser.add_argument("--delta-chars", type=int, default=20, help="characters per delta")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait a reply")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", ""),
                        help="a PostgreSQL server (a role that may CREATE DATABASE); default: "
                        "TEST_DATABASE_URL")
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", ""),
                        help="a Redis server for the shared flood budget and /stop "
                        "(FLOOD_BACKEND=redis, STOP_BACKEND=redis); default: TEST_REDIS_URL; "
                        "empty: each worker keeps its own budget")
    parser.add_argument("--ingress-posts", type=int, default=300,
                        help="updates POSTed to the ingress alone, in this process (0: none)")
    args = parser.parse_args(argv)
    if not args.database_url:
        raise SystemExit("needs PostgreSQL: --database-url or TEST_DATABASE_URL")
    if args.ingress_posts:
        p50, p95 = asyncio.run(ingress_alone(args.database_url, args.ingress_posts))
        print(f"the ingress alone: {args.ingress_posts} updates POSTed one after another, "
              f"answered in {p50:.1f} ms p50, {p95:.1f} ms p95", flush=True)
    results = []
    for workers in args.workers:
        result = asyncio.run(
            run(workers, args.chats, args.turns, args.database_url,
                reply_chars=args.reply_chars, stream_seconds=args.stream_seconds,
                delta_chars=args.delta_chars, timeout=args.timeout, redis_url=args.redis_url)
        )
        results.append(result)
        print(table([result]).splitlines()[-1], flush=True)
    defaults = inspect.signature(FloodControl).parameters
    rate, burst = (defaults[n].default if n in defaults else "?" for n in ("bot_rate", "bot_burst"))
    print()
    print(f"replies of {args.reply_chars} characters streamed over {args.stream_seconds} s; "
          f"bot-wide budget of bot.flood.FloodControl: {rate} writes/s, bursts of {burst}; "
          "the fake Bot API answers 429 past 30 writes/s (bursts of 30)")
    print(table(results))
    if any(r.run.never_completed for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
