"""``/usage``: the tokens and cost of the user's and the chat's replies, today and this month.

Days and months are UTC (the text says so). A reply whose endpoint reported no usage counts as
a reply "without a token count": its tokens are not guessed. ``ADMIN_USER_IDS`` also see the top
users: of every chat in a private chat with the bot, of this chat in a group.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.budget import period_starts
from bot.deps import allowed, deps_of, message_of, user_id_of
from bot.i18n import _, ngettext, number
from bot.storage.usage import UsageTotals

__all__ = ["TOP_USERS", "describe", "register", "usage_command"]

#: Users in an admin's top list.
TOP_USERS = 5


def describe(totals: UsageTotals) -> str:
    """One period's figures, e.g. "3 replies, 1,234 tokens (1,000 in, 234 out), cost 0.0012;
    1 without a token count"."""
    if not totals.replies:
        return _("no replies")
    parts = [ngettext("{n} reply", "{n} replies", totals.replies)]
    counted = totals.replies - totals.unknown
    if counted:
        parts.append(ngettext("{count} token ({prompt} in, {completion} out)",
                              "{count} tokens ({prompt} in, {completion} out)", totals.tokens,
                              count=number(totals.tokens), prompt=number(totals.prompt_tokens),
                              completion=number(totals.completion_tokens)))
    if totals.cost is not None:
        parts.append(_("cost {cost}", cost=number(totals.cost, decimals=4)))
    text = ", ".join(parts)
    if totals.unknown:
        text += "; " + ngettext("{n} of them without a token count",
                                "{n} of them without a token count", totals.unknown)
    return text


def _period_lines(title: str, day: UsageTotals, month: UsageTotals) -> list[str]:
    return [title, _("  today: {figures}", figures=describe(day)),
            _("  this month: {figures}", figures=describe(month))]


async def usage_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    user_id = user_id_of(update)
    usage = deps.service.usage
    day, month = period_starts(deps.service.budget.clock())
    lines = [_("Usage (days and months in UTC; today began at 00:00 UTC)")]
    if user_id is not None:
        mine = await usage.totals(day, month, user_id=user_id)
        lines += _period_lines(_("You:"), *mine)
    chat = await usage.totals(day, month, chat_id=message.chat.id)
    lines += _period_lines(_("This chat:"), *chat)
    if user_id is not None and user_id in deps.settings.admin_user_ids:
        private = message.chat.type == ChatType.PRIVATE
        top = await usage.top_users(month, chat_id=None if private else message.chat.id,
                                    limit=TOP_USERS)
        lines.append(_("Top users this month, all chats:") if private
                     else _("Top users this month, this chat:"))
        lines += [_("  user {user_id}: {figures}", user_id=entry.user_id,
                    figures=describe(entry.totals)) for entry in top] or [_("  nobody yet")]
    await message.reply_text("\n".join(lines))


def register(application: Application) -> None:
    """Add ``/usage``."""
    application.add_handler(CommandHandler("usage", usage_command))
