"""``python -m bot.storage {upgrade,downgrade,current}``: manage the schema without the bot.

The database is ``--database-url``, else ``DATABASE_URL``, else
``sqlite+aiosqlite:///data/bot.db``. Exit status 0 on success, 1 with the error on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.engine import make_url

from . import migrate
from .engine import database_url_from_env, describe_database_error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.storage", description="Migrate the conversation store's database."
    )
    parser.add_argument(
        "--database-url", help="database URL (default: $DATABASE_URL, else the SQLite default)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("upgrade", help="upgrade the schema (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = commands.add_parser("downgrade", help="downgrade the schema to a revision")
    downgrade.add_argument("revision", help='a revision id, "-1", or "base" (drops all tables)')
    commands.add_parser("current", help="print the database's revision and the newest one")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> str:
    url = args.database_url or database_url_from_env()
    shown = make_url(url).render_as_string(hide_password=True)
    if args.command == "upgrade":
        revision = await migrate.upgrade(url, args.revision)
    elif args.command == "downgrade":
        revision = await migrate.downgrade(url, args.revision)
    else:
        revision = await migrate.current_revision(url)
        return f"{shown}: at {revision or 'base (empty)'}; head is {migrate.head_revision()}"
    return f"{shown}: now at {revision or 'base (empty)'}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(asyncio.run(run(args)))
    except Exception as error:  # noqa: BLE001 - a command-line tool reports and exits
        url = args.database_url or database_url_from_env()
        print(f"error: {describe_database_error(error, url)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
