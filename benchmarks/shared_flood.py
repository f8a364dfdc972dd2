"""Cost of one flood-control acquisition: in one process (:class:`bot.flood.FloodControl`) and
shared through Redis (:class:`bot.shared_flood.SharedFloodControl`), and of one ``/stop``
through Redis pub/sub (:class:`bot.shared_stop.RedisStopSignals`).

Every acquisition is granted at once (100 private chats in turn, every rate far above the
count), so the numbers are the bookkeeping alone: the Python work, and for Redis the round
trips (``MGET`` of the 429 blocks, then a token-bucket script for the chat and one for the bot)
and the Redis server's own time, counted from its ``INFO commandstats``.

Usage: ``python -m benchmarks.shared_flood [--redis-url URL] [--acquisitions N]
[--concurrency C]``; Redis from ``--redis-url``, else TEST_REDIS_URL, else
redis://127.0.0.1:6379/15. Keys go under a fresh ``bench-…`` prefix and expire on their own.
Numbers to read, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from typing import Any

from bot.flood import FloodBudget, FloodControl, Priority
from bot.redis_link import connect
from bot.shared_flood import SharedFloodControl
from bot.shared_stop import RedisStopSignals
from bot.turns import RunningTurns

CHATS = 100  # private chats written to in turn


def limits() -> FloodControl:
    """Limits no acquisition waits for: the bookkeeping alone is measured."""
    return FloodControl(private_rate=1e6, private_burst=1e6, bot_rate=1e6, bot_burst=1e6)
#: The commands an acquisition sends (the flood control's; not the client's own on connecting).
FLOOD_COMMANDS = ("cmdstat_mget", "cmdstat_evalsha", "cmdstat_eval", "cmdstat_script")


async def sequential(flood: FloodBudget, count: int) -> list[float]:
    """Seconds of each of ``count`` acquisitions made one after another."""
    times = []
    for index in range(count):
        chat = 1 + index % CHATS
        started = time.perf_counter()
        await flood.acquire(chat, Priority.FINAL)
        times.append(time.perf_counter() - started)
    return times


async def concurrent(flood: FloodBudget, count: int, width: int) -> float:
    """Acquisitions per second with ``width`` of them waiting at once."""
    chats = (1 + index % CHATS for index in range(count))

    async def lane() -> None:
        for chat in chats:
            await flood.acquire(chat, Priority.FINAL)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(width)))
    return count / (time.perf_counter() - started)


async def redis_calls(url: str) -> tuple[int, float]:
    """Flood-control commands Redis has run and the microseconds it spent on them, so far."""
    client = connect(url)
    try:
        stats: dict[str, Any] = await client.info("commandstats")
    finally:
        await client.aclose(close_connection_pool=True)
    mine = [value for name, value in stats.items() if name in FLOOD_COMMANDS]
    calls = sum(int(v["calls"]) for v in mine)
    usec = sum(float(v["usec"]) for v in mine)
    return calls, usec


def row(name: str, times: list[float], rate: float, extra: str = "") -> str:
    p50 = statistics.median(times) * 1e6
    p95 = statistics.quantiles(times, n=20)[18] * 1e6
    return f"{name:<28} {p50:>10.1f} {p95:>10.1f} {rate:>12.0f}  {extra}"


async def stop_latency(url: str, rounds: int) -> list[float]:
    """Seconds of each ``/stop`` published and answered (two subscribed processes' worth:
    this one's two RedisStopSignals)."""
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    asking = RedisStopSignals(connect(url), namespace, RunningTurns())
    other = RedisStopSignals(connect(url), namespace, RunningTurns())
    await asking.start()
    await other.start()
    try:
        times = []
        for chat in range(rounds):
            started = time.perf_counter()
            await asking.stop((chat, 0), before=None, user_id=None)
            times.append(time.perf_counter() - started)
        return times
    finally:
        await asking.aclose()
        await other.aclose()


async def run(url: str, count: int, width: int) -> None:
    print(f"{count} acquisitions each; concurrency {width}; Redis at {url}")
    print(f"{'':<28} {'p50 µs':>10} {'p95 µs':>10} {'grants/s':>12}")
    local = limits()
    await sequential(local, 200)  # warm-up
    times = await sequential(local, count)
    rate = await concurrent(local, count, width)
    print(row("in-process (FloodControl)", times, rate))

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    shared = SharedFloodControl(connect(url), namespace, local=limits())
    try:
        await sequential(shared, 200)  # warm-up: connections, scripts loaded
        calls0, usec0 = await redis_calls(url)
        times = await sequential(shared, count)
        calls1, usec1 = await redis_calls(url)
        rate = await concurrent(shared, count, width)
        per = (calls1 - calls0) / count
        server = (usec1 - usec0) / count
        extra = f"{per:.1f} Redis commands, {server:.1f} µs of Redis time per acquisition"
        print(row("shared (Redis, pyrate GCRA)", times, rate, extra))
    finally:
        await shared.aclose()
    stops = await stop_latency(url, 200)
    print(row("/stop via Redis pub/sub", stops, len(stops) / sum(stops), "2 subscribers"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shared_flood", description=__doc__)
    default = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    parser.add_argument("--redis-url", default=default, help="the Redis server (redis://…)")
    parser.add_argument("--acquisitions", type=int, default=2000, help="acquisitions per row")
    parser.add_argument("--concurrency", type=int, default=100, help="acquisitions at once")
    args = parser.parse_args(argv)
    asyncio.run(run(args.redis_url, args.acquisitions, args.concurrency))


if __name__ == "__main__":
    main()
