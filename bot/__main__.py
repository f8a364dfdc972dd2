"""``python -m bot`` runs the bot; ``python -m bot migrate`` only upgrades the database.

Settings come from the environment and ``.env`` (see ``.env.example``). A missing or bad
setting stops start-up with one line naming it, and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from pydantic import ValidationError

from bot.settings import Settings, describe_error


def load_settings() -> Settings:
    """Read the settings, or exit with one clear line naming the bad setting."""
    try:
        return Settings()  # type: ignore[call-arg]  # read from the environment
    except ValidationError as error:
        print(describe_error(error), file=sys.stderr)
        raise SystemExit(2) from None


async def _run(settings: Settings) -> None:
    from bot.app import configure_logging, serve

    configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)


async def _migrate(database_url: str) -> None:
    from bot.storage import upgrade_to_head

    await upgrade_to_head(database_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate"],
        help="run the bot (default) or only upgrade the database to the newest schema",
    )
    args = parser.parse_args(argv)
    if args.command == "migrate":
        from bot.settings import DatabaseSettings

        asyncio.run(_migrate(DatabaseSettings().database_url))
        print("database upgraded to the newest schema")
        return
    from bot.storage import SchemaUpgradeError

    try:
        asyncio.run(_run(load_settings()))
    except SchemaUpgradeError as error:
        print(f"Database error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
