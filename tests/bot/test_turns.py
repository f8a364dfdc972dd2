"""The bounds below which waiting turns are dropped, and who a running turn answers (no
Telegram)."""

from __future__ import annotations

from bot.turns import Dropped, RunningTurns

CHAT, TOPIC = 6001, 5
ASKER, OTHER = 71, 72


async def test_turns_waiting_when_stop_came_are_dropped_and_later_ones_run() -> None:
    turns = RunningTurns()
    assert turns.dropped((CHAT, 0), message_id=1, user_id=ASKER) is None
    with turns.running((CHAT, 0), user_id=ASKER, message_id=1) as running:
        assert turns.current((CHAT, 0)) is running
        turns.drop(CHAT, 4, thread_id=0)  # /stop is message 4: messages 2 and 3 still wait
        assert turns.stop((CHAT, 0)) and running.stop.is_set()
    assert running.finished.is_set() and turns.current((CHAT, 0)) is None
    assert turns.dropped((CHAT, 0), message_id=2, user_id=ASKER) == Dropped(record=True)
    assert turns.dropped((CHAT, 0), message_id=3, user_id=OTHER) == Dropped(record=True)
    assert turns.dropped((CHAT, 0), message_id=5, user_id=ASKER) is None


async def test_a_turn_registering_after_a_stop_that_came_after_its_message_stops_at_once() -> None:
    turns = RunningTurns()
    assert turns.dropped((CHAT, 0), message_id=2, user_id=ASKER) is None
    turns.drop(CHAT, 3, thread_id=0)  # /stop came while the turn was loading its history
    with turns.running((CHAT, 0), user_id=ASKER, message_id=2) as running:
        assert running.stop.is_set()


async def test_a_user_s_stop_ends_only_their_own_reply() -> None:
    turns = RunningTurns()
    with turns.running((CHAT, 0), user_id=ASKER, message_id=1) as running:
        assert not turns.stop((CHAT, 0), user_id=OTHER) and not running.stop.is_set()
        assert turns.stop((CHAT, 0), user_id=ASKER) and running.stop.is_set()


def test_a_bound_of_one_user_drops_only_their_turns() -> None:
    turns = RunningTurns()
    turns.drop(CHAT, 10, thread_id=0, user_id=ASKER)
    assert turns.dropped((CHAT, 0), message_id=3, user_id=ASKER) == Dropped(record=True)
    assert turns.dropped((CHAT, 0), message_id=4, user_id=OTHER) is None


def test_a_bound_of_one_topic_leaves_the_other_topics_alone() -> None:
    turns = RunningTurns()
    turns.drop(CHAT, 10, thread_id=TOPIC)
    assert turns.dropped((CHAT, 0), message_id=3, user_id=ASKER) is None
    assert turns.dropped((CHAT, TOPIC), message_id=4, user_id=ASKER) == Dropped(record=True)


def test_forget_drops_every_topic_unrecorded() -> None:
    turns = RunningTurns()
    turns.drop(CHAT, 10, thread_id=TOPIC)
    turns.drop(CHAT, 10, record=False)
    assert turns.dropped((CHAT, 0), message_id=3, user_id=ASKER) == Dropped(record=False)
    assert turns.dropped((CHAT, TOPIC), message_id=4, user_id=ASKER) == Dropped(record=False)


def test_turns_without_a_message_id_are_never_dropped() -> None:
    turns = RunningTurns()
    turns.drop(CHAT, 10, thread_id=0)
    assert turns.dropped((CHAT, 0), message_id=None, user_id=None) is None


def test_a_spent_bound_is_forgotten() -> None:
    turns = RunningTurns()
    turns.drop(CHAT, 4, thread_id=0)
    assert turns.dropped((CHAT, 0), message_id=6, user_id=ASKER) is None  # all earlier had theirs
    assert turns.dropped((CHAT, 0), message_id=3, user_id=ASKER) is None


def test_bounds_are_kept_for_at_most_max_chats_chats() -> None:
    turns = RunningTurns(max_chats=2)
    for chat in (1, 2, 3):
        turns.drop(chat, 10, thread_id=0)
    assert turns.dropped((1, 0), message_id=3, user_id=ASKER) is None  # forgotten
    assert turns.dropped((3, 0), message_id=3, user_id=ASKER) == Dropped(record=True)
