"""帮助/菜单: the help text, also the answer to anything the bot does not understand."""

from __future__ import annotations

from wechatpy.messages import BaseMessage

from bot.context import BotContext
from bot.replies import Reply, Text
from bot.router import Router

router = Router()


@router.action(
    "help", keywords=["帮助", "菜单", "?", "help", "功能"], menu_keys=["HELP"], pure=True
)
async def show_help(message: BaseMessage, context: BotContext) -> Reply:
    return Text(context.bot.help_text)
