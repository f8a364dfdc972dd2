"""How many network chunks per second the provider parsers handle on one core.

    python -m benchmarks.providers_parse [--chunks 100000] [--repeat 3]

Two measurements, each the best of ``--repeat`` runs, the process pinned to one CPU:

1. parser only: pre-built byte chunks fed from memory through each shared parser
   (``providers.sse``): raw text (AiAsk/ChatAnywhere), lines (AI365VIP), SSE ``data:`` events
   (AiChats) and OpenAI ``chat.completion.chunk`` deltas (Ylokh; and as typed chunks, text,
   reasoning and usage, ``providers.chat``: OpenAI). One chunk = one event
   or piece as a server would send it.
2. end to end: ``Ylokh.create_async_generator`` over loopback HTTP against the fake server
   (``tests.fakes.providers``), which runs in the same process and on the same core, so the
   number includes serving the stream too (a lower bound for the client alone). Counted in
   deltas yielded: the server writes without pauses, so TCP packs many events per read.

It prints numbers; it asserts nothing (not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from providers.chat import iter_chat_chunks
from providers.sse import iter_chat_deltas, iter_lines, iter_sse, iter_text


def openai_events(count: int) -> list[bytes]:
    return [("data: " + json.dumps({"id": "chatcmpl-x", "object": "chat.completion.chunk",
                                    "choices": [{"index": 0, "delta": {"content": f"tok{i} "},
                                                 "finish_reason": None}]}) + "\n\n").encode()
            for i in range(count)] + [b"data: [DONE]\n\n"]


WORKLOADS: dict[str, tuple[Callable[[int], list[bytes]], Callable[..., AsyncIterator[Any]]]] = {
    "raw text (AiAsk, ChatAnywhere)": (
        lambda n: [f"слово{i} ".encode() for i in range(n)], iter_text),
    "lines (AI365VIP)": (lambda n: [f"line {i} строка\n".encode() for i in range(n)], iter_lines),
    "SSE data events (AiChats)": (lambda n: [f"data: tok{i} \n\n".encode() for i in range(n)],
                                  iter_sse),
    "OpenAI SSE deltas (Ylokh)": (openai_events, iter_chat_deltas),
    "OpenAI SSE chunks: text, reasoning, usage (OpenAI)": (openai_events, iter_chat_chunks),
}


async def from_memory(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def parse(chunks: list[bytes], parser: Callable[..., AsyncIterator[Any]]) -> int:
    return sum([1 async for _ in parser(from_memory(chunks))])


def run_parse(chunks: list[bytes], parser: Callable[..., AsyncIterator[Any]]) -> int:
    """``parse`` in a fresh event loop: the number of items the parser yielded."""
    return asyncio.run(parse(chunks, parser))


async def end_to_end(count: int) -> int:
    from providers import Ylokh
    from tests.fakes.providers import FakeProviders, Reply

    async with FakeProviders() as fake:
        os.environ.update(fake.env())
        fake.push("ylokh", Reply("x" * count, delta_chars=1))
        messages = [{"role": "user", "content": "Hi"}]
        return sum([1 async for _ in Ylokh.create_async_generator("gpt-3.5-turbo", messages)])


def best(runs: int, work: Callable[[], int]) -> tuple[float, float, int]:
    """(best wall seconds, CPU seconds of that run, items) over ``runs`` runs."""
    results = []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        items = work()
        results.append((time.perf_counter() - wall, time.process_time() - cpu, items))
    return min(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is shown")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"{args.chunks} chunks per run, best of {args.repeat}, one core")
    for name, (build, parse_with) in WORKLOADS.items():
        chunks = build(args.chunks)
        wall, cpu, _ = best(args.repeat, partial(run_parse, chunks, parse_with))
        report(f"parser only  {name}", len(chunks), wall, cpu, "chunks")
    wall, cpu, items = best(args.repeat, lambda: asyncio.run(end_to_end(args.chunks)))
    report("end to end   Ylokh over loopback + fake server", items, wall, cpu, "deltas")


def report(label: str, count: int, wall: float, cpu: float, unit: str) -> None:
    print(f"  {label:50} {count / wall:>10,.0f} {unit}/s wall, {count / cpu:>10,.0f} {unit}/s "
          f"per CPU second ({wall * 1e6 / count:.2f} µs each, {count} {unit})")

if __name__ == "__main__":
    main()
