"""The job queue of the webhook ingress and the workers (procrastinate's schema).

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-29

PostgreSQL only (SQLite: nothing): creates procrastinate's tables, types, functions and
triggers (``procrastinate_*``) from the SQL file shipped with the installed procrastinate
(``SchemaManager.get_schema()``; pyproject pins procrastinate to one minor release, 3.10, so
this is that release's schema). A later procrastinate release that changes its schema ships
the SQL of the change (``procrastinate/sql/migrations/``): apply it in a new revision.

Why here and not ``procrastinate schema --apply`` at start: Alembic runs once per database, under
``bot.storage.migrate``'s advisory lock, when the ingress and several workers start together;
procrastinate's own apply is not idempotent (a second process starting fails on the objects
that exist).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.util import await_only

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Drops every procrastinate object (tables with their triggers, then functions and types).
DROP = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables
                WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
    END LOOP;
    FOR item IN SELECT t.typname FROM pg_type t
                JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
                  AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
    END LOOP;
END $$;
"""


def _execute_script(sql: str) -> None:
    """Run a script of several statements (asyncpg's simple query protocol; SQLAlchemy's
    ``execute`` prepares one statement) in the migration's transaction."""
    driver = op.get_bind().connection.dbapi_connection
    assert driver is not None
    await_only(driver.driver_connection.execute(sql))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    _execute_script(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _execute_script(DROP)
