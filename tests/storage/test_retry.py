"""Retrying a write that can wait: transient database errors are retried until the deadline,
others are raised at once."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.storage import is_transient, retrying


def locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


def test_which_errors_are_transient() -> None:
    assert is_transient(locked())
    assert is_transient(ConnectionRefusedError(111, "Connect call failed"))
    assert not is_transient(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")))
    assert not is_transient(ValueError("a bug"))


async def test_a_transient_error_is_retried_until_the_call_succeeds() -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise locked()
        return "stored"

    assert await retrying(flaky, within=10, what="a test write") == "stored"
    assert len(attempts) == 3


async def test_the_last_transient_error_is_raised_when_time_is_up() -> None:
    attempts: list[int] = []

    async def always_locked() -> None:
        attempts.append(1)
        raise locked()

    with pytest.raises(OperationalError):
        await retrying(always_locked, within=0.5, what="a test write")
    assert len(attempts) >= 2  # tried again before giving up


async def test_any_other_error_is_raised_at_once() -> None:
    attempts: list[int] = []

    async def buggy() -> None:
        attempts.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await retrying(buggy, within=10, what="a test write")
    assert len(attempts) == 1
