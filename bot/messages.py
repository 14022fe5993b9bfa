"""A checked push as the wechatpy message the features read.

wechatpy's `parse_message` parses XML with xmltodict and picks the message class; a push is
parsed and checked once already (`bot.push.xml_push`), so `message_of` takes that data as is:
the fields xmltodict would give for its canonical rendering (`bot.push.render_xml`: empty
fields left out, repeated elements as lists), and the class `parse_message` would choose.
"""

from __future__ import annotations

from typing import Any

from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage

from bot.push import Data, Push

_SUBSCRIBE_KEYS = (("scanbarcode|", "scanimage|"), "subscribe_scan_product")
_SCENE_PREFIX = "qrscene_"


_ABSENT = object()  # rendered as nothing at all: xmltodict has no key for it


def _fields(data: Data) -> Any:
    """What xmltodict reads back from the rendering of `data`: an empty text is not rendered
    (`_ABSENT`), an object rendered with nothing inside reads back as None."""
    if isinstance(data, str):
        return data or _ABSENT
    if isinstance(data, list):
        items = [value for value in map(_fields, data) if value is not _ABSENT]
        if not items:
            return _ABSENT
        return items if len(items) > 1 else items[0]
    if not data:
        return _ABSENT
    fields = {name: value for name, value in ((n, _fields(v)) for n, v in data.items())}
    return {name: value for name, value in fields.items() if value is not _ABSENT} or None


def message_of(push: Push) -> BaseMessage:
    """The message `parse_message(render_xml(push))` gives, for a push with a MsgType."""
    message: dict[str, Any] = _fields(push)
    message_type = str(message.get("MsgType", "")).lower()
    if message_type != "event" and not message_type.startswith("device_"):
        return MESSAGE_TYPES.get(message_type, UnknownMessage)(message)
    event_type = str(message["Event"]).lower() if "Event" in message else None
    if event_type is None and message_type.startswith("device_"):
        event_type = message_type
    elif message_type.startswith("device_"):
        event_type = f"device_{event_type}"
    event_key = message.get("EventKey")
    if event_type == "subscribe" and isinstance(event_key, str):
        if event_key.startswith(_SUBSCRIBE_KEYS[0]):
            event_type = message["Event"] = _SUBSCRIBE_KEYS[1]
        elif event_key.startswith(_SCENE_PREFIX):
            event_type = message["Event"] = "subscribe_scan"
            message["EventKey"] = event_key[len(_SCENE_PREFIX) :]
    return EVENT_TYPES.get(event_type, UnknownMessage)(message)
