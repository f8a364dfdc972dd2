"""``python -m bot`` runs the bot; ``python -m bot migrate`` only upgrades the database;
``python -m bot healthcheck`` tells whether the running bot is healthy; ``python -m bot webhook``
runs the webhook ingress and ``python -m bot worker`` a worker (PostgreSQL; see bot/webhook.py,
bot/worker.py).

Settings come from the environment and ``.env`` (see ``.env.example``). Exit statuses: 0 after
SIGTERM/SIGINT (a clean shutdown); 2 with one line when a setting is missing or bad (the
``ENDPOINTS_FILE`` too: the line names the file, its line and the problem), or when
Telegram rejects the token or the Bot API URL (a person must fix it: not retried); 1 with one
line when the database cannot be used, and for any other error (its traceback is logged, the
token hidden). ``healthcheck`` exits 0 when the bot polled Telegram within HEARTBEAT_MAX_AGE
seconds and the database answers, else 1, printing one line either way.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


@contextmanager
def long_lived_objects() -> Iterator[None]:
    """Run the block (start-up's imports) with Python's cyclic garbage collector off, then move
    every object alive at its end to the collector's permanent generation (``gc.freeze``) and
    turn the collector back on.

    Importing the bot creates about 180,000 objects that live as long as the process (modules,
    classes, functions); with the collector on, its passes over them while they are created cost
    about 0.15 s of CPU at every start, and a later full pass would walk them all again (about
    0.07 s). The few cycles left by the imports (about 1,800 objects) are kept, not collected.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def load_settings() -> Settings:
    """Read the settings, or exit with one clear line naming the bad setting."""
    from pydantic import ValidationError

    from bot.settings import Settings, describe_error

    try:
        return Settings()  # read from the environment
    except ValidationError as error:
        print(describe_error(error), file=sys.stderr)
        raise SystemExit(2) from None


Serve = Callable[["Settings", asyncio.Event], Awaitable[None]]


def _server(command: str) -> Serve:
    """The coroutine function that runs ``command`` until its stop event is set."""
    if command == "webhook":
        from bot.webhook import serve_webhook

        return serve_webhook
    if command == "worker":
        from bot.worker import serve_worker

        return serve_worker
    from bot.app import serve

    return serve


async def _run(settings: Settings, server: Serve) -> None:
    from bot.app import configure_logging

    configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server(settings, stop)


async def _migrate(database_url: str) -> None:
    from bot.storage import upgrade_to_head

    await upgrade_to_head(database_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate", "healthcheck", "webhook", "worker"],
        help="run the bot (default: long polling), only upgrade the database to the newest "
        "schema, check that the running bot polls Telegram and its database answers; or, on "
        "PostgreSQL, run the webhook ingress that queues updates, or a worker that answers them",
    )
    args = parser.parse_args(argv)
    if args.command == "migrate":
        from bot.settings import DatabaseSettings

        asyncio.run(_migrate(DatabaseSettings().database_url))
        print("database upgraded to the newest schema")
        return
    if args.command == "healthcheck":
        from bot.health import run_check

        raise SystemExit(run_check(load_settings()))
    with long_lived_objects():
        settings = load_settings()
        server = _server(args.command)
        from bot.lifecycle import StartupError
        from bot.storage import SchemaUpgradeError
        from providers.endpoints import EndpointConfigError

    try:
        asyncio.run(_run(settings, server))
    except EndpointConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except SchemaUpgradeError as error:
        print(f"Database error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except StartupError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as error:  # logged through the token-hiding formatter
        logging.getLogger("bot").critical("the bot stopped on an error", exc_info=error)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
