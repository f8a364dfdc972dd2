"""A chat's own switches, kept in ``chats.settings``: spoken replies (``/voice``) and the
model's reasoning shown above its answers (``/reasoning``, else SHOW_REASONING)."""

from __future__ import annotations

from bot.settings import Settings
from bot.storage import ChatRecord, Store
from bot.turn_types import ChatTarget


class ChatToggles:
    """Reads and sets the switches of a chat in ``store``; ``settings`` gives the defaults."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @staticmethod
    def speaks(chat: ChatRecord | None) -> bool:
        """Whether the chat's complete text replies are also sent as voice (``/voice``)."""
        return chat is not None and bool(chat.settings.get("voice"))

    async def set_voice(self, target: ChatTarget, on: bool | None = None) -> bool:
        """Turn spoken replies on or off for the chat (``None``: toggle); returns the new state."""
        chat = await self.store.get_or_create_chat(target.chat_id, target.chat_type)
        state = not chat.settings.get("voice") if on is None else on
        await self.store.update_settings(target.chat_id, voice=True if state else None)
        return state

    def shows_reasoning(self, chat: ChatRecord | None) -> bool:
        """Whether the chat sees the model's reasoning above its answers: its ``/reasoning``
        choice (``chats.settings["reasoning"]``), else SHOW_REASONING."""
        chosen = None if chat is None else chat.settings.get("reasoning")
        return self.settings.show_reasoning if chosen is None else bool(chosen)

    async def set_reasoning(self, target: ChatTarget, on: bool | None = None) -> bool:
        """Show the model's reasoning in the chat, or not (``None``: toggle); returns the new
        state. Stored even when it equals SHOW_REASONING, so a later change of the default
        does not overturn the chat's choice."""
        chat = await self.store.get_or_create_chat(target.chat_id, target.chat_type)
        state = not self.shows_reasoning(chat) if on is None else on
        await self.store.update_settings(target.chat_id, reasoning=state)
        return state
