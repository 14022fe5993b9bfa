"""The bot's router: features register actions (with keywords and menu keys) and events.

Each feature module owns a `Router` and decorates its handlers; `bot.dispatch` composes the
feature routers into one. A handler takes `(message, context)` and returns a reply:

    router = Router()

    @router.action("points", keywords=["积分"], menu_keys=["POINTS"], needs_member=True)
    async def points(message: BaseMessage, context: BotContext) -> Reply: ...

`needs_member` handlers only run for a follower linked to a member with a card; the dispatcher
answers everyone else with the invitation to join. A `pure` handler's answer depends on the
message alone (no side effects, no I/O), so the webhook skips deduplication and the deadline for
it: a repeated push gets the same answer anyway. Keywords are stored normalised
(`normalize`), so "签到", "　签到 " and full-width forms meet the same entry.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from wechatpy.messages import BaseMessage

from bot.context import BotContext
from bot.replies import Reply

Handler = Callable[[BaseMessage, "BotContext"], Awaitable[Reply]]

_EDGE_PUNCTUATION = " \t\r\n!.~。！～、,，"


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), trimmed of spaces and trailing marks, lower-case."""
    return unicodedata.normalize("NFKC", text).strip(_EDGE_PUNCTUATION).lower()


@dataclass(frozen=True)
class Route:
    name: str
    handler: Handler
    needs_member: bool = False
    pure: bool = False


@dataclass
class Router:
    """Actions by name, keywords and menu keys naming actions, and event handlers."""

    actions: dict[str, Route] = field(default_factory=dict)
    keywords: dict[str, str] = field(default_factory=dict)
    menu_keys: dict[str, str] = field(default_factory=dict)
    events: dict[str, Route] = field(default_factory=dict)

    @classmethod
    def compose(cls, routers: Iterable[Router]) -> Router:
        """One router holding every feature's entries; a name registered twice is an error."""
        composed = cls()
        for router in routers:
            for table in ("actions", "keywords", "menu_keys", "events"):
                mine: dict[str, object] = getattr(composed, table)
                theirs: dict[str, object] = getattr(router, table)
                clash = mine.keys() & theirs.keys()
                if clash:
                    raise ValueError(f"bot {table} registered twice: {sorted(clash)}")
                mine.update(theirs)
        return composed

    def action(
        self,
        name: str,
        *,
        keywords: Iterable[str] = (),
        menu_keys: Iterable[str] = (),
        needs_member: bool = False,
        pure: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register an action answering these keywords and menu (CLICK) keys."""

        def register(handler: Handler) -> Handler:
            self.actions[name] = Route(name, handler, needs_member, pure)
            for word in keywords:
                self.keywords[normalize(word)] = name
            for key in menu_keys:
                self.menu_keys[key.upper()] = name
            return handler

        return register

    def event(self, *events: str, needs_member: bool = False) -> Callable[[Handler], Handler]:
        """Register a handler for events, by wechatpy's lower-case event name."""

        def register(handler: Handler) -> Handler:
            for event in events:
                self.events[event.lower()] = Route(event.lower(), handler, needs_member)
            return handler

        return register
