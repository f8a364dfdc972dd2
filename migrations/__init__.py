"""Alembic migrations of the conversation store (``bot.storage``); run with
``python -m bot.storage upgrade`` or ``alembic upgrade head`` from the repository root."""
