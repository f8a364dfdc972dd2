"""Deploy smoke test: compose.yaml on a real Docker engine, as a user runs it.

Run through ``bash .ci/deploy-check`` (which skips when no engine is reachable). It copies the
working tree (tracked and untracked files, not ignored ones) to a scratch folder, writes a
``.env`` there pointing the bot at the tests' fake Bot API and fake OpenAI-compatible provider
(served by this process on 127.0.0.1), and runs ``docker compose`` with compose.yaml plus
``.ci/compose.deploy-check.yaml`` (host network) under its own project name, so a real
deployment on the same engine is not touched. Checks, each printed as ``ok`` or ``FAIL``:

- the image builds, and the bot answers a message;
- every process in the container runs as uid 10001 and gid 10001;
- the code exists once, as the installed package (no source tree, build/ or egg-info);
- the healthcheck (``python -m bot healthcheck``) reports healthy;
- history survives ``docker compose restart`` and ``down`` + ``up -d`` (the provider gets the
  earlier turns);
- ``docker compose stop`` in the middle of a long reply: the bot exits 0 within the
  ``stop_grace_period`` (else Docker's SIGKILL gives 137);
- a code-only change rebuilds without reinstalling the dependencies (the layers up to the
  dependency layer are reused); prints its build time and the image size.

With ``--postgres``: the same with the ``postgres`` profile and the README's ``DATABASE_URL``
(plus ``.ci/compose.deploy-check-postgres.yaml``: the server on the host network, port 55432),
and also that the bot started after the server's first healthy check and that the history is
stored in PostgreSQL.

Exit status 1 when a check failed. The project (containers, network, volume) is removed at the
end; the image stays, as the build cache of the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "llm-bot-deploy-check"
COMPOSE_FILES = ("compose.yaml", ".ci/compose.deploy-check.yaml")
POSTGRES_FILE = ".ci/compose.deploy-check-postgres.yaml"
POSTGRES_ENV = {  # the README's two lines, with the host network's address
    "POSTGRES_PASSWORD": "DeployCheck42",
    "DATABASE_URL": "postgresql+asyncpg://bot:${POSTGRES_PASSWORD}@127.0.0.1:55432/bot",
}
UID = "10001"
CHAT = 4242
ANSWER = "Hello from the fake provider, served on the host."


class Check:
    """Runs docker compose in the scratch copy and counts failed checks."""

    def __init__(self, folder: Path, postgres: bool) -> None:
        self.folder = folder
        self.postgres = postgres
        self.failed: list[str] = []

    def report(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'}  {what}{f'  ({detail})' if detail else ''}", flush=True)
        if not ok:
            self.failed.append(what)
        return ok

    async def run(self, *args: str, check: bool = True) -> str:
        """``args`` run in the scratch copy; returns stdout. Raises RuntimeError on a failure
        when ``check``, with the command's output."""
        process = await asyncio.create_subprocess_exec(
            *args, cwd=self.folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        output, _ = await process.communicate()
        text = output.decode(errors="replace")
        if check and process.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {process.returncode}:\n{text}")
        return text

    async def compose(self, *args: str, check: bool = True) -> str:
        names = [*COMPOSE_FILES, POSTGRES_FILE] if self.postgres else COMPOSE_FILES
        options = [item for name in names for item in ("-f", name)]
        if self.postgres:
            options += ["--profile", "postgres"]
        return await self.run("docker", "compose", "-p", PROJECT, *options, *args, check=check)

    async def container(self) -> str:
        return (await self.compose("ps", "-a", "-q", "bot")).strip()

    async def image(self) -> str:
        """The id of the bot's image as Compose last built it."""
        names = (await self.compose("config", "--images", "bot")).split()
        # The bot's image is named after the project (postgres, its dependency, may be listed).
        (name,) = [n for n in names if n.startswith(PROJECT)]
        return await self.inspect(name, "{{.Id}}")

    async def inspect(self, what: str, template: str) -> str:
        return (await self.run("docker", "inspect", "--format", template, what)).strip()


def seconds(duration: str) -> float:
    """A Compose duration ("15s", "1m30s", "1.5s") in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", duration))


def instant(text: str) -> datetime:
    """Docker's RFC 3339 time with nanoseconds, to microseconds."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", text).replace("Z", "+00:00"))


def copy_tree(destination: Path) -> None:
    """The working tree as git sees it: tracked files and untracked, not ignored, ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


async def answered(telegram: FakeTelegram, after: int, text: str, timeout: float) -> bool:
    """True once a bot message newer than message id ``after`` shows ``text``."""

    def shown() -> bool:
        return any(
            m.message_id > after and m.text == text for m in telegram.bot_messages(CHAT)
        )

    try:
        await telegram.wait_for(shown, timeout)
    except TimeoutError:
        return False
    return True


def last_id(telegram: FakeTelegram) -> int:
    return max((m.message_id for m in telegram.messages(CHAT)), default=0)


async def turn(
    check: Check, telegram: FakeTelegram, provider: FakeProviders, prompt: str, what: str,
    history: Callable[[list[dict]], bool] = lambda _: True, timeout: float = 120.0,
) -> None:
    """Send ``prompt``; check the answer is shown and that the provider's request passes
    ``history`` (a test of its ``messages``)."""
    before = last_id(telegram)
    telegram.send_message(CHAT, prompt)
    ok = await answered(telegram, before, ANSWER, timeout)
    if not check.report(ok, what, "" if ok else f"no answer within {timeout:.0f} s"):
        return
    requests = [r for r in provider.requests_for("openai") if r.path.endswith("/completions")]
    messages = requests[-1].json["messages"] if requests else []
    contents = [m.get("content") for m in messages]
    check.report(history(messages), f"{what}: history sent to the provider", repr(contents))


async def check_postgres_first(check: Check) -> None:
    """The bot's container started only after PostgreSQL's first healthy check."""
    postgres = (await check.compose("ps", "-a", "-q", "postgres")).strip()
    log = json.loads(await check.inspect(postgres, "{{json .State.Health.Log}}")) or []
    healthy = [instant(entry["End"]) for entry in log if entry["ExitCode"] == 0]
    started = instant(await check.inspect(await check.container(), "{{.State.StartedAt}}"))
    first = min(healthy, default=None)
    check.report(first is not None and first < started, "the bot starts once PostgreSQL is healthy",
                 f"healthy at {first}, bot started at {started}")


async def checks(check: Check, telegram: FakeTelegram, provider: FakeProviders) -> None:
    started = time.monotonic()
    await check.compose("build", "bot")
    check.report(True, "image built", f"{time.monotonic() - started:.1f} s")
    image = await check.image()
    await check.compose("up", "-d")
    if check.postgres:
        await check_postgres_first(check)
    await turn(check, telegram, provider, "first message", "the bot answers")

    bot = await check.container()
    ids = await check.compose(
        "exec", "-T", "bot", "sh", "-c", "grep -h '^[UG]id:' /proc/[0-9]*/status"
    )
    numbers = {n for line in ids.splitlines() for n in line.split()[1:]}
    check.report(numbers == {UID}, f"every process runs as uid {UID}, gid {UID}", str(numbers))
    layout = await check.compose(
        "exec", "-T", "bot", "python", "-c",
        "import bot, pathlib, sys; print(bot.__file__); print(*[str(p) for d in sys.path"
        " if d and pathlib.Path(d).is_dir() for p in pathlib.Path(d).glob('*.egg-info')]);"
        " print(*[p for p in ('/app/bot', '/src', '/app/build') if pathlib.Path(p).exists()])",
    )
    location, *leftovers = layout.splitlines()
    check.report(
        "site-packages" in location and not "".join(leftovers).strip(),
        "the code runs from the installed package only", location,
    )

    health = ""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and health != "healthy":
        health = await check.inspect(bot, "{{.State.Health.Status}}")
        await asyncio.sleep(2)
    log = await check.inspect(bot, "{{range .State.Health.Log}}{{.Output}}{{end}}")
    check.report(health == "healthy", "healthcheck: healthy", f"{health}; output: {log[-160:]!r}")

    await check.compose("restart", "bot")
    await turn(check, telegram, provider, "second message", "after `docker compose restart`",
               lambda messages: "first message" in str(messages) and ANSWER in str(messages))
    await check.compose("down")
    await check.compose("up", "-d")
    await turn(check, telegram, provider, "third message", "after `down` and `up -d`",
               lambda messages: "first message" in str(messages)
               and "second message" in str(messages))
    if check.postgres:
        password = POSTGRES_ENV["POSTGRES_PASSWORD"]
        count = await check.compose("exec", "-T", "-e", f"PGPASSWORD={password}", "postgres",
                                    "psql", "-U", "bot", "-d", "bot", "-Atc",
                                    "SELECT count(*) FROM messages")
        stored = int(count.strip() or 0)  # three turns: 3 user messages and 3 replies
        check.report(stored >= 6, "the history is in PostgreSQL", f"{stored} messages")

    # A long reply: 120 deltas 0.25 s apart, 30 s in all.
    provider.push("openai", Reply(" ".join(f"word{i}" for i in range(120)), delay=0.25))
    before = last_id(telegram)
    telegram.send_message(CHAT, "a long question")
    await telegram.wait_for(lambda: any(
        m.message_id > before and (m.text or "").startswith("word") for m in
        telegram.bot_messages(CHAT)), 60)
    await asyncio.sleep(2)
    bot = await check.container()  # a new container since `down`
    config = json.loads(await check.compose("config", "--format", "json"))
    limit = seconds(config["services"]["bot"]["stop_grace_period"])
    started = time.monotonic()
    await check.compose("stop", "bot")
    took = time.monotonic() - started
    code = await check.inspect(bot, "{{.State.ExitCode}}")
    check.report(code == "0" and took < limit,
                 f"`docker compose stop` during a reply: exit 0 within {limit:g} s",
                 f"exit {code} after {took:.1f} s")
    shown = [m.text or "" for m in telegram.bot_messages(CHAT) if m.message_id > before]
    print(f"      the chat shows after the stop: {' | '.join(t[-80:] for t in shown)!r}")

    # A code-only change, new each run (an old one would come from the build cache).
    with (check.folder / "bot" / "__init__.py").open("a") as module:
        module.write(f"# a code-only change made at {time.time()}\n")
    started = time.monotonic()
    await check.compose("build", "bot")
    took = time.monotonic() - started
    rebuilt = await check.image()
    old = json.loads(await check.inspect(image, "{{json .RootFS.Layers}}"))
    new = json.loads(await check.inspect(rebuilt, "{{json .RootFS.Layers}}"))
    shared = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                  min(len(old), len(new)))
    # Only the project's own two layers (the copied wheel, its installation) may differ.
    check.report(len(new) - shared <= 2, "a code-only change reuses the dependency layer",
                 f"rebuilt in {took:.1f} s; {shared} of {len(new)} layers reused")
    size = int(await check.inspect(rebuilt, "{{.Size}}"))
    print(f"      image size: {size / 1e6:.0f} MB ({size} bytes)")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bash .ci/deploy-check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--postgres", action="store_true",
                        help="run the postgres profile (DATABASE_URL as the README says)")
    args = parser.parse_args(argv)
    # The fake provider logs a traceback when the bot hangs up mid-reply (as it must on stop).
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as scratch:
        check = Check(Path(scratch), args.postgres)
        copy_tree(check.folder)
        async with FakeTelegram() as telegram, FakeProviders() as provider:
            provider.default["openai"] = Reply(ANSWER, delta_chars=10, delay=0.05)
            env = {
                **provider.env(openai_models="gpt-4o-mini"),
                "TELEGRAM_BOT_TOKEN": telegram.token,
                "TELEGRAM_API_BASE_URL": telegram.base_url,
                "TELEGRAM_API_BASE_FILE_URL": telegram.base_file_url,
                "DEFAULT_MODEL": "gpt-4o-mini",
                **(POSTGRES_ENV if args.postgres else {}),
            }
            (check.folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            try:
                await checks(check, telegram, provider)
            except (RuntimeError, TimeoutError) as error:
                check.report(False, "the check ran to its end", str(error)[-2000:])
                print(await check.compose("logs", "--tail", "40", "bot", check=False))
            finally:
                await check.compose("down", "--volumes", "--remove-orphans", check=False)
        if check.failed:
            print(f"deploy-check: {len(check.failed)} check(s) failed: {'; '.join(check.failed)}")
            return 1
        print("deploy-check: every check passed")
        return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
