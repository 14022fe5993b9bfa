"""The passive reply XML: what wechatpy's reply classes give, read back field by field."""

from __future__ import annotations

import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.messages import TextMessage
from wechatpy.replies import ImageReply, TextReply

from bot.replies import Image, Text, render

xml_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Cn"]))
EXAMPLES = settings(max_examples=200, deadline=None, derandomize=True, database=None)


def message(source: str = "oFollower", target: str = "gh_account") -> TextMessage:
    return TextMessage(
        {"FromUserName": source, "ToUserName": target, "MsgType": "text", "CreateTime": "1"}
    )


def fields(xml: str) -> dict[str, object]:
    return dict(xmltodict.parse(xml)["xml"])


class TestRender:
    @EXAMPLES
    @given(content=xml_text.filter(lambda text: "]]>" not in text), now=st.integers(0, 2**33))
    def test_a_text_reply_reads_as_wechatpys(self, content: str, now: int) -> None:
        ours = render(Text(content), message(), now)
        theirs = TextReply(message=message(), content=content, time=now).render()
        assert fields(ours) == fields(theirs)

    @EXAMPLES
    @given(media_id=xml_text.filter(lambda text: "]]>" not in text))
    def test_an_image_reply_reads_as_wechatpys(self, media_id: str) -> None:
        ours = render(Image(media_id), message(), 1700000000)
        theirs = ImageReply(message=message(), media_id=media_id, time=1700000000).render()
        assert fields(ours) == fields(theirs)

    def test_the_reply_goes_back_to_the_sender_from_the_account(self) -> None:
        reply = fields(render(Text("hi"), message("oA", "gh_B"), 5))
        assert (reply["ToUserName"], reply["FromUserName"]) == ("oA", "gh_B")
        assert (reply["MsgType"], reply["Content"], reply["CreateTime"]) == ("text", "hi", "5")

    @EXAMPLES
    @given(content=xml_text)
    def test_any_text_survives_even_a_cdata_end_inside_it(self, content: str) -> None:
        content = f"a]]>{content}]]>"
        assert fields(render(Text(content), message(), 1))["Content"] == content

    def test_nothing_to_say_is_no_reply(self) -> None:
        assert render(None, message(), 1) == ""
