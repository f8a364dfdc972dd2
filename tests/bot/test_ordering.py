"""Per-chat order of updates: deterministic interleavings of the chat order and the processor.

Each test drives the interleaving step by step (events the handlers wait on, and
:func:`settle`, which lets every ready task run), so the order asserted is the only one possible.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram import Update

from bot.ordering import ChatOrderedUpdateProcessor, InProcessChatOrder, queue_key

CHAT, OTHER = 3001, 3002


async def settle() -> None:
    """Let every task that can run, run (a few loop iterations)."""
    for _ in range(20):
        await asyncio.sleep(0)


_update_ids = iter(range(1, 1_000_000))


def update(chat_id: int, text: str, *, thread: int | None = None, button: bool = False) -> Update:
    """A message (or, with ``button``, a callback query on a message) in ``chat_id``."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": 0,
        "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
        "from": {"id": abs(chat_id), "is_bot": False, "first_name": "A"},
        "text": text,
    }
    if thread is not None:
        message.update(message_thread_id=thread, is_topic_message=True)
    body: dict[str, Any] = {"update_id": next(_update_ids)}
    if button:
        body["callback_query"] = {
            "id": "1", "from": message["from"], "chat_instance": "c", "data": "x", "message": message
        }
    else:
        body["message"] = message
    return Update.de_json(body, None)


class Handlers:
    """Handler coroutines that log their start and end and finish when the test says so."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.release: dict[str, asyncio.Event] = {}
        self.running: set[str] = set()
        self.most_at_once = 0

    def handler(self, name: str, *, blocks: bool = True) -> Any:
        self.release[name] = asyncio.Event()
        if not blocks:
            self.release[name].set()

        async def run() -> None:
            self.log.append(f"start {name}")
            self.running.add(name)
            self.most_at_once = max(self.most_at_once, len(self.running))
            await self.release[name].wait()
            self.running.discard(name)
            self.log.append(f"end {name}")

        return run()


def start(processor: ChatOrderedUpdateProcessor, upd: Update, coroutine: Any) -> asyncio.Task[None]:
    return asyncio.create_task(processor.process_update(upd, coroutine))


# -- the chat order alone ---------------------------------------------------------------------


async def test_a_caller_arriving_while_the_turn_is_handed_over_waits_its_turn() -> None:
    """A holds the turn, B waits; A leaves and in the same step C arrives: C must wait for B.

    This is the interleaving of defect 1: the old per-chat lock was deleted when A released it
    while B (woken, not yet running) did not hold it, and C made a new lock and ran beside B.
    """
    order = InProcessChatOrder()
    log: list[str] = []
    a_may_leave, b_may_leave = asyncio.Event(), asyncio.Event()

    async def caller(name: str, leave: asyncio.Event | None) -> None:
        async with order.turn(CHAT):
            log.append(f"start {name}")
            if leave is not None:
                await leave.wait()
            log.append(f"end {name}")

    a = asyncio.create_task(caller("A", a_may_leave))
    await settle()
    b = asyncio.create_task(caller("B", b_may_leave))
    await settle()
    a_may_leave.set()
    await asyncio.sleep(0)  # A leaves: B is handed the turn but has not run yet
    c = asyncio.create_task(caller("C", None))
    await settle()
    assert log == ["start A", "end A", "start B"]  # C waits behind B
    assert order.waiting(CHAT) == 1
    b_may_leave.set()
    await asyncio.gather(a, b, c)
    assert log == ["start A", "end A", "start B", "end B", "start C", "end C"]
    assert len(order) == 0  # idle keys are forgotten


class ThreeCallers:
    """A holds the chat's turn until :attr:`release` is set; B and C wait, in that order."""

    def __init__(self) -> None:
        self.order = InProcessChatOrder()
        self.log: list[str] = []
        self.release = asyncio.Event()
        self.a = asyncio.create_task(self.caller("A"))
        self.b = asyncio.create_task(self.caller("B"))
        self.c = asyncio.create_task(self.caller("C"))

    async def caller(self, name: str) -> None:
        async with self.order.turn(CHAT):
            self.log.append(name)
            if name == "A":
                await self.release.wait()


async def test_a_cancelled_waiter_leaves_the_queue_and_the_order_holds() -> None:
    callers = ThreeCallers()
    await settle()
    callers.b.cancel()
    await settle()
    assert callers.order.waiting(CHAT) == 1
    callers.release.set()
    await asyncio.gather(callers.a, callers.c)
    assert callers.b.cancelled() and callers.log == ["A", "C"]
    assert len(callers.order) == 0


async def test_a_waiter_cancelled_right_after_it_was_handed_the_turn_passes_it_on() -> None:
    callers = ThreeCallers()
    await settle()
    callers.release.set()
    await asyncio.sleep(0)  # A leaves and hands the turn to B, which has not woken yet
    callers.b.cancel()
    await asyncio.gather(callers.a, callers.c)
    assert callers.b.cancelled() and callers.log == ["A", "C"]
    assert len(callers.order) == 0


# -- the processor ------------------------------------------------------------------------------


async def test_the_processor_never_runs_two_updates_of_a_chat_at_once() -> None:
    """Messages A, B, C in one chat, C sent while B's reply is written (defect 1, end to end
    through the processor): B and C never run together and run in the order sent."""
    processor = ChatOrderedUpdateProcessor(8)
    handlers = Handlers()
    tasks = [start(processor, update(CHAT, "A"), handlers.handler("A"))]
    tasks.append(start(processor, update(CHAT, "B"), handlers.handler("B")))
    await settle()
    handlers.release["A"].set()
    await asyncio.sleep(0)  # A's update ends; B is handed the chat's turn
    tasks.append(start(processor, update(CHAT, "C"), handlers.handler("C")))
    await settle()
    assert handlers.running == {"B"}
    handlers.release["B"].set()
    await settle()
    handlers.release["C"].set()
    await asyncio.gather(*tasks)
    assert handlers.log == ["start A", "end A", "start B", "end B", "start C", "end C"]
    assert handlers.most_at_once == 1


async def test_updates_waiting_for_their_chat_hold_no_slot() -> None:
    """A flood in one chat does not hold the slots another chat's update needs (defect 6)."""
    processor = ChatOrderedUpdateProcessor(2)
    handlers = Handlers()
    flood = [
        start(processor, update(CHAT, f"spam {i}"), handlers.handler(f"spam {i}"))
        for i in range(50)
    ]
    await settle()
    other = start(processor, update(OTHER, "hello"), handlers.handler("hello", blocks=False))
    await settle()
    assert other.done()  # ran while all 49 other flood updates still wait for their chat
    assert handlers.log == ["start spam 0", "start hello", "end hello"]
    for i in range(50):
        handlers.release[f"spam {i}"].set()
    await asyncio.gather(*flood)
    starts = [line for line in handlers.log if line.startswith("start spam")]
    assert starts == [f"start spam {i}" for i in range(50)]  # in the order sent
    assert handlers.most_at_once == 2


async def test_running_updates_are_bounded_by_the_slots() -> None:
    processor = ChatOrderedUpdateProcessor(2)
    handlers = Handlers()
    tasks = [
        start(processor, update(CHAT + i, "hi"), handlers.handler(f"chat {i}")) for i in range(4)
    ]
    await settle()
    assert handlers.running == {"chat 0", "chat 1"}
    handlers.release["chat 0"].set()
    await settle()
    assert handlers.running == {"chat 1", "chat 2"}
    for event in handlers.release.values():
        event.set()
    await asyncio.gather(*tasks)
    assert handlers.most_at_once == 2


@pytest.mark.parametrize("text", ["/stop", "/stop@TheBot", "/forget", "/new", "/help", "/START"])
async def test_commands_that_must_act_at_once_skip_the_queue_and_need_no_slot(text: str) -> None:
    processor = ChatOrderedUpdateProcessor(1)
    handlers = Handlers()
    reply = start(processor, update(CHAT, "write a poem"), handlers.handler("reply"))
    queued = start(processor, update(CHAT, "another"), handlers.handler("queued"))
    await settle()
    command = start(processor, update(CHAT, text), handlers.handler("command", blocks=False))
    tap = start(processor, update(CHAT, "menu", button=True), handlers.handler("tap", blocks=False))
    await settle()
    assert command.done() and tap.done()
    assert handlers.running == {"reply"}
    handlers.release["reply"].set()
    handlers.release["queued"].set()
    await asyncio.gather(reply, queued)


def test_the_queue_of_an_update() -> None:
    assert queue_key(update(CHAT, "hi")) == (CHAT, 0)
    assert queue_key(update(-100, "hi", thread=7)) == (-100, 7)
    assert queue_key(update(CHAT, "/model dalle")) == (CHAT, 0)  # in order: it changes the chat
    assert queue_key(update(CHAT, "/retry")) == (CHAT, 0)
    assert queue_key(update(CHAT, "/stop")) is None
    assert queue_key(update(CHAT, "x", button=True)) is None
    assert queue_key(object()) is None


async def test_an_update_cancelled_while_it_waits_is_never_run() -> None:
    processor = ChatOrderedUpdateProcessor(4)
    handlers = Handlers()
    first = start(processor, update(CHAT, "A"), handlers.handler("A"))
    second = start(processor, update(CHAT, "B"), handlers.handler("B"))
    await settle()
    second.cancel()
    await settle()
    handlers.release["A"].set()
    await first
    assert second.cancelled() and handlers.log == ["start A", "end A"]
