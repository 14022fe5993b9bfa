"""The push parsers, against arbitrary input: they return checked data or refuse, nothing else.

`xml_push` and `json_push` are the only readers of a push body. Whatever bytes, element trees
or JSON values arrive, they either raise `ValidationFailed` (400 `malformed_xml` or
`malformed_push`) or return plain data that keeps the rules: text leaves, dicts and lists,
`MAX_DEPTH` at most, the text fields text. Everything downstream (the deduplication key, the
subscribe-event items, wechatpy's parser on the canonical rendering, the keyword router) then
runs on that data without raising.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatpy import parse_message

from bot import dedup
from bot.dispatch import select_route
from bot.official import read_message
from bot.push import (
    _NAME,
    MAX_DEPTH,
    TEXT_FIELDS,
    Data,
    Push,
    json_push,
    load_push,
    render_xml,
    xml_push,
)
from bot.subscribe_events import subscribe_event, subscribe_items
from wxmember.core.config import BotConfig
from wxmember.core.errors import ValidationFailed

EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FIELD_NAMES = sorted(TEXT_FIELDS) + [
    "SubscribeMsgPopupEvent",
    "SubscribeMsgSentEvent",
    "List",
    "TemplateId",
    "SubscribeStatusString",
    "ErrorCode",
]
MSG_TYPES = ["text", "voice", "event", "image", "hologram", "TEXT", ""]
EVENTS = ["subscribe", "SCAN", "CLICK", "subscribe_msg_popup_event", "subscribe_msg_sent_event"]

names = st.sampled_from(FIELD_NAMES) | st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True
)
prefixed = st.from_regex(r"[a-z]{1,3}:[a-z]{1,3}", fullmatch=True)  # no namespace bound: not XML
odd_names = st.sampled_from([names] * 30 + [prefixed]).flatmap(lambda s: s)
xml_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Cn"]), max_size=20)
likely = st.sampled_from(MSG_TYPES + EVENTS + ["积分", " 签到！", "qrscene_1", "scanbarcode|a|b"])
raw = st.text(max_size=5)  # control characters and surrogates: not XML at all
texts = st.sampled_from([likely, likely, xml_text, xml_text] * 5 + [raw]).flatmap(lambda s: s)


@pytest.fixture(autouse=True)
def _quiet_refusals() -> Iterator[None]:
    """Every refusal logs a warning; thousands of examples need not print them."""
    logger = logging.getLogger("bot.push")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def depth(value: Data) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def assert_keeps_the_rules(push: Push) -> None:
    assert isinstance(push, dict)
    assert depth(push) <= MAX_DEPTH
    for name in TEXT_FIELDS & push.keys():
        assert isinstance(push[name], str)

    def leaves_are_text(value: Data) -> None:
        if isinstance(value, dict):
            for item in value.values():
                leaves_are_text(item)
        elif isinstance(value, list):
            for item in value:
                leaves_are_text(item)
        else:
            assert isinstance(value, str)

    leaves_are_text(push)


def use_downstream(push: Push) -> None:
    """What the webhooks do with a push once read: none of it may raise."""
    assert dedup.push_key("miniapp", push).startswith("wxmember:bot:push:miniapp:")
    event = subscribe_event(push)
    if event is not None:
        for item in subscribe_items(push, event):
            assert item.template_id


@st.composite
def elements(draw: st.DrawFn, level: int = 1) -> ET.Element:
    root_names = st.sampled_from(["xml", "xml", "xml", "Xml"])
    element = ET.Element(draw(odd_names) if level > 1 else draw(root_names))
    if draw(st.booleans()):
        element.set(draw(st.sampled_from(["a", "id", "MsgType"])), draw(xml_text))
    if level < MAX_DEPTH + 3 and draw(st.integers(0, 3)) > level - 1:
        for _ in range(draw(st.integers(0, 4))):
            element.append(draw(elements(level + 1)))
    if not len(element) or draw(st.booleans()):
        element.text = draw(texts)
    if level > 1 and draw(st.integers(0, 5)) == 0:
        element.tail = draw(xml_text)
    return element


@st.composite
def messages(draw: st.DrawFn) -> ET.Element:
    """A push-like document: the usual header fields, some repeated or nested, plus noise."""
    root = ET.Element("xml")
    header = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "EventKey"]
    for name in header + ["Content", "Recognition"]:
        for _ in range(draw(st.sampled_from([1] * 40 + [0] * 4 + [2]))):
            field = ET.SubElement(root, name)
            if name == "MsgType":
                field.text = draw(st.sampled_from(MSG_TYPES) | xml_text)
            elif name == "Event":
                field.text = draw(st.sampled_from(EVENTS) | xml_text)
            else:
                field.text = draw(texts)
            if draw(st.integers(0, 40)) == 0:
                field.append(draw(elements(3)))
    for child in draw(st.lists(elements(2), max_size=3)):
        root.append(child)
    return root


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(names | st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=30,
)


def tree_reading(data: bytes | str) -> Push | None:
    """The reference reading: ElementTree under defusedxml (no DTD), then the same rules.

    None where the push must be refused. `xml_push` reads expat's events directly, in one pass;
    it must agree with this on every document.
    """
    parser = SafeET.XMLParser(forbid_dtd=True)
    try:
        parser.feed(data)
        root = parser.close()
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError, LookupError):
        return None

    def read(element: ET.Element, level: int) -> Data | None:
        if level > MAX_DEPTH:
            return None
        if len(element) == 0:
            return (element.text or "").strip()
        data: dict[str, Data] = {}
        for child in element:
            value = read(child, level + 1)
            if value is None or not _NAME.fullmatch(child.tag):
                return None
            if child.tag not in data:
                data[child.tag] = value
            elif isinstance(previous := data[child.tag], list):
                previous.append(value)
            else:
                data[child.tag] = [previous, value]
        return data

    if root.tag != "xml":
        return None
    push: Push = {}
    for child in root:
        value = read(child, 2)
        if value is None or not _NAME.fullmatch(child.tag) or child.tag in push:
            return None
        push[child.tag] = value
    if any(not isinstance(push[name], str) for name in TEXT_FIELDS & push.keys()):
        return None
    return push


def reading(data: bytes | str) -> Push | None:
    try:
        return xml_push(data)
    except ValidationFailed as exc:
        assert exc.code == "malformed_xml"
        return None


class TestXmlPush:
    @EXAMPLES
    @given(tree=elements())
    def test_reads_any_tree_as_elementtree_does(self, tree: ET.Element) -> None:
        for body in (ET.tostring(tree, encoding="utf-8"), ET.tostring(tree, encoding="unicode")):
            assert reading(body) == tree_reading(body)

    @EXAMPLES
    @given(tree=messages())
    def test_reads_any_message_as_elementtree_does(self, tree: ET.Element) -> None:
        body = ET.tostring(tree, encoding="unicode")
        assert reading(body) == tree_reading(body)

    @EXAMPLES
    @given(body=st.binary(max_size=400))
    def test_reads_any_bytes_as_elementtree_does(self, body: bytes) -> None:
        body = b"<xml>" + body if body[:1] != b"<" else body
        assert reading(body) == tree_reading(body)

    @pytest.mark.parametrize(
        "body",
        [
            '<!DOCTYPE xml [<!ENTITY a "b">]><xml><Content>&a;</Content></xml>',
            '<!DOCTYPE xml SYSTEM "http://example.com/x.dtd"><xml><Content>1</Content></xml>',
            '<?xml version="1.0"?><!-- a --><!DOCTYPE xml><xml><Content>1</Content></xml>',
            '<xml xmlns="urn:x"><Content>1</Content></xml>',
            '<xml><Content xmlns="urn:x">1</Content></xml>',
            "<xml><Content>a<![CDATA[<b>]]>c<!-- d -->e</Content></xml>",
            "<xml><E>text<A>1</A>tail</E></xml>",
            '<?xml version="1.0" encoding="GBK"?><xml><Content>\u79ef\u5206</Content></xml>',
        ],
    )
    def test_reads_these_as_elementtree_does(self, body: str) -> None:
        data = body.encode("gbk") if "GBK" in body else body.encode()
        assert reading(data) == tree_reading(data)

    @EXAMPLES
    @given(body=st.binary(max_size=400))
    def test_any_bytes_are_read_or_refused(self, body: bytes) -> None:
        try:
            push = xml_push(b"<xml>" + body if body[:1] != b"<" else body)
        except ValidationFailed as exc:
            assert exc.code == "malformed_xml"
            return
        assert_keeps_the_rules(push)

    @EXAMPLES
    @given(tree=elements())
    def test_any_element_tree_is_read_or_refused(self, tree: ET.Element) -> None:
        try:
            push = xml_push(ET.tostring(tree, encoding="utf-8"))
        except ValidationFailed as exc:
            assert exc.code == "malformed_xml"
            return
        assert_keeps_the_rules(push)
        use_downstream(push)

    @EXAMPLES
    @given(tree=messages())
    def test_a_message_that_is_read_reaches_wechatpy_and_the_router_safely(
        self, tree: ET.Element
    ) -> None:
        try:
            push = xml_push(ET.tostring(tree, encoding="unicode"))
        except ValidationFailed as exc:
            assert exc.code == "malformed_xml"
            return
        assert_keeps_the_rules(push)
        use_downstream(push)
        try:
            message = read_message(push)
        except ValidationFailed as exc:
            assert exc.code == "malformed_xml"
            assert not push.get("MsgType")
            return
        select_route(message, BotConfig())

    @EXAMPLES
    @given(tree=messages())
    def test_the_message_is_the_one_wechatpy_parses_from_the_rendering(
        self, tree: ET.Element
    ) -> None:
        try:
            push = xml_push(ET.tostring(tree, encoding="unicode"))
            message = read_message(push)
        except ValidationFailed:
            return
        # an XML parser reads a carriage return back as a line feed; the push keeps it
        expected = parse_message(render_xml(push).replace("\r", "&#13;"))
        assert type(message) is type(expected)
        assert message._data == expected._data

    @pytest.mark.parametrize(
        "fields",
        [
            "<MsgType>event</MsgType><Event>subscribe</Event>",
            "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_store-7</EventKey>"
            "<Ticket>t</Ticket>",
            "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>scanbarcode|a|b</EventKey>",
            "<MsgType>event</MsgType><Event>SCAN</Event><EventKey>42</EventKey>",
            "<MsgType>event</MsgType><Event>CLICK</Event><EventKey>points</EventKey>",
            "<MsgType>event</MsgType><Event>unsubscribe</Event>",
            "<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>1.5</Latitude>",
            "<MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event>"
            "<SubscribeMsgPopupEvent><List><TemplateId>a</TemplateId>"
            "<SubscribeStatusString>accept</SubscribeStatusString></List>"
            "<List><TemplateId>b</TemplateId><SubscribeStatusString></SubscribeStatusString>"
            "</List></SubscribeMsgPopupEvent>",
            "<MsgType>event</MsgType><Event>no_such_event</Event>",
            "<MsgType>event</MsgType><Event>scancode_push</Event>"
            "<ScanCodeInfo><ScanType></ScanType><ScanResult></ScanResult></ScanCodeInfo>",
            "<MsgType>device_text</MsgType><Content>x</Content>",
            "<MsgType>device_event</MsgType><Event>bind</Event>",
            "<MsgType>location</MsgType><Location_X>1</Location_X><Label></Label>",
            "<MsgType>text</MsgType><Content>积分 &amp; &lt;more&gt;</Content>",
        ],
    )
    def test_events_get_the_class_wechatpy_gives_them(self, fields: str) -> None:
        push = xml_push(f"<xml><FromUserName>o</FromUserName>{fields}</xml>")
        message = read_message(push)
        expected = parse_message(render_xml(push))
        assert type(message) is type(expected)
        assert message._data == expected._data

    @EXAMPLES
    @given(tree=messages())
    def test_the_canonical_rendering_reads_back_the_same(self, tree: ET.Element) -> None:
        try:
            push = xml_push(ET.tostring(tree, encoding="unicode"))
        except ValidationFailed:
            return
        again = xml_push(render_xml(push))
        for name in push.keys() & TEXT_FIELDS:
            assert again.get(name, "") == push[name]


class TestJsonPush:
    @EXAMPLES
    @given(value=json_values | st.dictionaries(names, json_values, max_size=8))
    def test_any_json_value_is_read_or_refused(self, value: Any) -> None:
        try:
            push = json_push(json.dumps(value))
        except ValidationFailed as exc:
            assert exc.code == "malformed_push"
            return
        assert isinstance(value, dict)
        assert_keeps_the_rules(push)
        use_downstream(push)

    @EXAMPLES
    @given(value=json_values, nesting=st.integers(0, 3000), key=names)
    def test_any_nesting_is_read_or_refused(self, value: Any, nesting: int, key: str) -> None:
        body = '{"' + key + '": ' + "[" * nesting + json.dumps(value) + "]" * nesting + "}"
        try:
            push = json_push(body)
        except ValidationFailed as exc:
            assert exc.code == "malformed_push"
            return
        assert nesting + depth(_as_data(value)) + 1 <= MAX_DEPTH
        assert_keeps_the_rules(push)

    @EXAMPLES
    @given(body=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
    def test_any_bytes_are_read_or_refused(self, body: bytes) -> None:
        try:
            push = load_push(b"{" + body)
        except ValidationFailed as exc:
            assert exc.code == "malformed_push"
            return
        assert_keeps_the_rules(push)
        use_downstream(push)


class TestEitherFormat:
    @EXAMPLES
    @given(body=st.binary(max_size=300))
    def test_any_body_is_read_or_refused(self, body: bytes) -> None:
        try:
            push = load_push(body)
        except ValidationFailed as exc:
            assert exc.code in ("malformed_xml", "malformed_push")
            return
        assert_keeps_the_rules(push)
        use_downstream(push)


def _as_data(value: Any) -> Data:
    if isinstance(value, dict):
        return {str(k): _as_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_data(v) for v in value]
    return ""


class TestExamples:
    """The shapes the property tests stand for, written out."""

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ("<xml><Content>a</Content><Content>b</Content></xml>", "more than once"),
            ("<xml><Content><a>x</a></Content></xml>", "Content must be text"),
            ("<xml>" + "<a>" * 3000 + "</a>" * 3000 + "</xml>", "deeper than"),
            ('<xml><w:a xmlns:w="urn:x">1</w:a></xml>', "not acceptable"),
        ],
    )
    def test_xml_refusals_say_why(self, body: str, message: str) -> None:
        with pytest.raises(ValidationFailed, match=message):
            xml_push(body)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ('{"a": 1, "a": 2}', "more than once"),
            ('{"Event": ["a"]}', "Event must be text"),
            ('{"a": ' + "[" * 3000 + "]" * 3000 + "}", "deeper than"),
            ("[]", "neither XML nor JSON"),
            ('{"a": 1', "not valid JSON"),
        ],
    )
    def test_json_refusals_say_why(self, body: str, message: str) -> None:
        with pytest.raises(ValidationFailed, match=message):
            load_push(body)

    def test_json_scalars_become_text(self) -> None:
        push = json_push('{"CreateTime": 1700000000, "A": true, "B": null, "C": 1.5}')
        assert push == {"CreateTime": "1700000000", "A": "true", "B": "", "C": "1.5"}

    def test_repeated_elements_inside_a_field_are_a_list(self) -> None:
        push = xml_push("<xml><E><List><T>1</T></List><List><T>2</T></List></E></xml>")
        assert push == {"E": {"List": [{"T": "1"}, {"T": "2"}]}}
