"""The context sent to a provider: count limit, character budget, system prompt, statuses."""

from __future__ import annotations

from bot.storage import ReplyStatus, Store
from bot.storage.context import alternate, trim_context

CHAT = 77


async def _exchange(store: Store, question: str, answer: str, status: ReplyStatus) -> None:
    await store.append_user_message(CHAT, question)
    reply = await store.start_reply(CHAT)
    await store.update_reply(reply.id, content=answer, status=status)


async def test_context_is_oldest_first_with_system_prompt_not_counted_in_limit(
    store: Store,
) -> None:
    for number in range(5):
        await _exchange(store, f"q{number}", f"a{number}", ReplyStatus.COMPLETE)

    context = await store.context(CHAT, limit=4, system_prompt="Be brief.")

    assert context == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "q3"},
        {"role": "assistant", "content": "a3"},
        {"role": "user", "content": "q4"},
        {"role": "assistant", "content": "a4"},
    ]


async def test_context_drops_oldest_first_to_fit_the_character_budget(store: Store) -> None:
    for question, answer in (("a" * 50, "A"), ("b" * 30, "B"), ("c" * 30, "C")):
        await _exchange(store, question, answer, ReplyStatus.COMPLETE)

    def firsts(context: list[dict[str, str]]) -> list[str]:
        return [m["content"][0] for m in context]

    assert firsts(await store.context(CHAT, max_chars=63)) == ["b", "B", "c", "C"]
    assert firsts(await store.context(CHAT, max_chars=115)) == ["a", "A", "b", "B", "c", "C"]
    # The system prompt's 20 characters count against the budget too; an assistant message
    # left first by the trim is dropped (the first turn is the user's).
    trimmed = await store.context(CHAT, max_chars=81, system_prompt="s" * 20)
    assert firsts(trimmed) == ["s", "c", "C"]


async def test_context_keeps_the_newest_message_even_alone_over_budget(store: Store) -> None:
    await _exchange(store, "short", "answer", ReplyStatus.COMPLETE)
    await store.append_user_message(CHAT, "x" * 500)

    assert await store.context(CHAT, max_chars=100) == [{"role": "user", "content": "x" * 500}]


async def test_context_skips_failed_and_empty_keeps_stopped_and_interrupted(
    store: Store,
) -> None:
    await _exchange(store, "q1", "the provider said 500", ReplyStatus.FAILED)
    await _exchange(store, "q2", "", ReplyStatus.STOPPED)
    await _exchange(store, "q3", "stopped half", ReplyStatus.STOPPED)
    await store.append_user_message(CHAT, "q4")
    left = await store.start_reply(CHAT)
    await store.update_reply(left.id, content="cut by a restart")
    await store.mark_interrupted()

    everything = await store.context(CHAT)
    # The user messages whose replies are skipped are merged with the next one: roles alternate.
    assert everything == [
        {"role": "user", "content": "q1\n\nq2\n\nq3"},
        {"role": "assistant", "content": "stopped half"},
        {"role": "user", "content": "q4"},
        {"role": "assistant", "content": "cut by a restart"},
    ]
    # The limit counts usable messages: skipped ones do not use it up.
    assert [m["content"] for m in await store.context(CHAT, limit=5)] == [
        "q2\n\nq3",
        "stopped half",
        "q4",
        "cut by a restart",
    ]


async def test_context_of_the_current_conversation_only(store: Store) -> None:
    await store.append_user_message(CHAT, "forgotten")
    await store.new_conversation(CHAT)
    assert await store.context(CHAT, system_prompt="sys") == [{"role": "system", "content": "sys"}]
    await store.append_user_message(CHAT, "remembered")
    assert await store.context(CHAT) == [{"role": "user", "content": "remembered"}]


def test_trim_context_walks_from_the_newest_and_leaves_no_gap() -> None:
    newest_first = [("user", "c" * 10), ("assistant", "b" * 100), ("user", "a" * 5)]

    # "b" does not fit in 50, so "a" (which would) is dropped too: no gap in the history.
    assert trim_context(newest_first, max_chars=50) == [{"role": "user", "content": "c" * 10}]
    assert trim_context(newest_first, max_chars=115) == [
        {"role": "user", "content": "a" * 5},
        {"role": "assistant", "content": "b" * 100},
        {"role": "user", "content": "c" * 10},
    ]
    assert trim_context([], max_chars=10, system_prompt="") == []


def test_alternate_merges_consecutive_roles_and_starts_with_the_user() -> None:
    messages = [
        {"role": "assistant", "content": "left first by the trim"},
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "answer"},
        {"role": "assistant", "content": "more"},
        {"role": "user", "content": "three"},
    ]
    assert alternate(messages) == [
        {"role": "user", "content": "one\n\ntwo"},
        {"role": "assistant", "content": "answer\n\nmore"},
        {"role": "user", "content": "three"},
    ]
    assert alternate([]) == []
    with_files = [
        {"role": "user", "content": "look", "attachments": [{"kind": "photo", "file_id": "a"}]},
        {"role": "user", "content": "and this", "attachments": [{"kind": "photo", "file_id": "b"}]},
    ]
    assert alternate(with_files) == [
        {
            "role": "user",
            "content": "look\n\nand this",
            "attachments": [{"kind": "photo", "file_id": "a"}, {"kind": "photo", "file_id": "b"}],
        }
    ]
