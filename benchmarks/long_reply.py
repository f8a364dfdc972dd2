"""Long-reply benchmark: one huge reply streamed as fast as possible while other chats talk.

Starts the bot as :mod:`benchmarks.streaming` does (``python -m bot`` in its own process, a
fresh SQLite file, the fake Bot API with Telegram's flood control, the fake OpenAI-compatible
server). One chat asks first and gets a reply of ``--long-chars`` characters of Markdown
(paragraphs with bold, code, links and code blocks) written as fast as the fake can send it
(deltas of ``--delta-chars`` characters, no delay). Once that request reached the provider,
``--chats`` other chats have ``--turns`` turns each with ordinary replies (``--reply-chars``
characters over ``--stream-seconds`` seconds). The same run without the long reply is the
baseline. For each it prints:

- the other chats: seconds from the user's message to the first text of the reply, and to
  the whole reply on screen (p50, p95);
- the long chat: messages the bot wrote there, characters they show, and seconds from the
  question to its last write;
- the bot's CPU seconds over the run (start-up apart; its whole process tree, see
  :mod:`benchmarks.process`), its peak resident set during the run (the tree, sampled every
  50 ms) and the bot process's VmHWM (its peak over its life, start-up included), in MiB.

Usage: ``python -m benchmarks.long_reply [--long-chars 100000] [--chats 20] [--turns 3]``;
``--max-reply-chars N`` sets the bot's MAX_REPLY_CHARS; ``--bot-root DIR`` runs the bot from
another checkout (a worktree of main: the same runs before and after a change). Numbers to
read, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.process import TreeSampler, peak_rss_mib, tree_cpu_seconds
from benchmarks.startup import bot_env, log_file, start_bot, stop_bot
from benchmarks.streaming import converse, percentile, reply_text
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

LONG_CHAT = 999


@dataclass
class LongRun:
    long_chars: int  # 0: the baseline, no long reply
    first: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    never_completed: int = 0
    long_messages: int = 0
    long_shown: int = 0
    long_seconds: float = float("nan")
    cpu: float = 0.0
    run_rss_mib: float = 0.0  # the tree's peak resident set during the run (sampled)
    vmhwm_mib: float = 0.0  # the bot process's peak resident set over its life (VmHWM)


def markdown_text(chars: int) -> str:
    """``chars`` characters of Markdown like a model's long answer."""
    parts, size, i = [], 0, 0
    while size < chars:
        if i % 7 == 6:
            lines = "".join(f"    value_{i}_{j} = compute({j}) * 2  # step {j}\n" for j in range(8))
            part = f"```python\ndef step_{i}():\n{lines}```\n\n"
        else:
            part = (
                f"{i}. Some **bold** words, `inline_code()` and a [link](https://example.org/{i});"
                " the answer goes on with _more_ text to read.\n\n"
            )
        parts.append(part)
        size += len(part)
        i += 1
    return "".join(parts)[:chars]


async def run(
    long_chars: int,
    *,
    chats: int = 20,
    turns: int = 3,
    reply_chars: int = 1500,
    stream_seconds: float = 3.0,
    delta_chars: int = 20,
    quiet: float = 3.0,
    timeout: float = 300.0,
    settings: dict[str, str] | None = None,
    bot_root: Path | None = None,
) -> LongRun:
    text = reply_text(reply_chars)
    deltas = max(1, -(-len(text) // delta_chars))
    result = LongRun(long_chars)
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        fake.default["openai"] = Reply(text, delta_chars=delta_chars, delay=stream_seconds / deltas)
        with tempfile.TemporaryDirectory() as tmp:
            env = bot_env(telegram, fake, f"{tmp}/bench.db", bot_root)
            env.update(settings or {})
            err = Path(tmp, "stderr")
            with log_file(err) as stderr:
                process, _, _ = await start_bot(telegram, env, tmp, stderr)
            sampler = TreeSampler(process.pid)  # the run only: start-up apart
            try:
                async with sampler.running():
                    cpu_before = tree_cpu_seconds(sampler.process)
                    started = time.monotonic()
                    if long_chars:
                        long = Reply(markdown_text(long_chars), delta_chars=delta_chars)
                        fake.push("openai", long)
                        telegram.send_message(LONG_CHAT, "Tell me everything")
                        await telegram.wait_for(lambda: bool(fake.requests_for("openai")), 60)
                    all_turns = await asyncio.gather(*(
                        converse(telegram, 1000 + i, turns, text, False, timeout)
                        for i in range(chats)
                    ))
                    if long_chars:
                        await _wait_quiet(telegram, quiet, started + timeout)
                        messages = telegram.bot_messages(LONG_CHAT)
                        result.long_messages = len(messages)
                        result.long_shown = sum(len(m.text or "") for m in messages)
                        if messages:
                            last = max(m.edited_at or m.sent_at for m in messages)
                            result.long_seconds = last - started
                    result.cpu = tree_cpu_seconds(sampler.process) - cpu_before
                result.run_rss_mib = sampler.peak_tree
                result.vmhwm_mib = peak_rss_mib(process.pid)
            finally:
                await stop_bot(process, err)
    for turn in (t for ts in all_turns for t in ts):
        if turn.first_visible is not None:
            result.first.append(turn.first_visible - turn.sent_at)
        if turn.complete_at is None:
            result.never_completed += 1
        else:
            result.complete.append(turn.complete_at - turn.sent_at)
    return result


async def _wait_quiet(telegram: FakeTelegram, quiet: float, deadline: float) -> None:
    """Wait until the long chat got no write for ``quiet`` seconds (or ``deadline`` passed)."""
    while time.monotonic() < deadline:
        messages = telegram.bot_messages(LONG_CHAT)
        last = max((m.edited_at or m.sent_at for m in messages), default=None)
        if last is not None and time.monotonic() - last > quiet:
            return
        await asyncio.sleep(0.5)


def table(results: list[LongRun], chats: int, turns: int) -> str:
    lines = [
        ("| run | other chats: first text p50 / p95 (s) | reply complete p50 / p95 (s) "
        "| never completed | long chat: messages / characters shown / last write (s) "
        "| bot CPU s | peak RSS MiB: run / VmHWM |"),
        "|" + "---|" * 7,
    ]
    for r in results:
        name = (f"{chats} chats x {turns} turns + one reply of {r.long_chars:,} characters"
                if r.long_chars else f"{chats} chats x {turns} turns alone")
        long = "-"
        if r.long_chars:
            long = f"{r.long_messages} / {r.long_shown:,} / {r.long_seconds:.1f}"
        lines.append(
            f"| {name} | {percentile(r.first, 50):.3f} / {percentile(r.first, 95):.3f} "
            f"| {percentile(r.complete, 50):.3f} / {percentile(r.complete, 95):.3f} "
            f"| {r.never_completed} | {long} | {r.cpu:.1f} "
            f"| {r.run_rss_mib:.1f} / {r.vmhwm_mib:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.long_reply",
                                     description=(__doc__ or "").split("\n")[0])
    add = parser.add_argument
    add("--long-chars", type=int, default=100_000, help="the long reply, characters")
    add("--chats", type=int, default=20, help="other chats talking meanwhile")
    add("--turns", type=int, default=3, help="turns per other chat")
    add("--reply-chars", type=int, default=1500, help="other chats' reply length, characters")
    add("--stream-seconds", type=float, default=3.0, help="seconds one ordinary reply streams")
    add("--delta-chars", type=int, default=20, help="characters per streamed delta (chunk)")
    add("--max-reply-chars", type=int, help="the bot's MAX_REPLY_CHARS (default: its own)")
    add("--no-baseline", action="store_true", help="skip the run without the long reply")
    add("--bot-root", type=Path, default=None,
        help="run the bot from this checkout (e.g. a worktree of main, for a before/after)")
    args = parser.parse_args(argv)
    settings = {}
    if args.max_reply_chars is not None:
        settings["MAX_REPLY_CHARS"] = str(args.max_reply_chars)
    results = []
    for long_chars in ([args.long_chars] if args.no_baseline else [0, args.long_chars]):
        result = asyncio.run(
            run(long_chars, chats=args.chats, turns=args.turns, reply_chars=args.reply_chars,
                stream_seconds=args.stream_seconds, delta_chars=args.delta_chars,
                settings=settings, bot_root=args.bot_root)
        )
        results.append(result)
        print(table([result], args.chats, args.turns).splitlines()[-1], flush=True)
    print()
    print(f"other chats' replies: {args.reply_chars} characters over {args.stream_seconds} s; "
          f"the long reply as fast as possible; deltas of {args.delta_chars} characters; "
          f"MAX_REPLY_CHARS={args.max_reply_chars or 'default'}")
    print(table(results, args.chats, args.turns))
    if any(r.never_completed for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
