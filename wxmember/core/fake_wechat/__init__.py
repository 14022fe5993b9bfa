"""A fake WeChat API server for tests and ``wxmember demo``.

Build the state, arrange it, serve it::

    fake = FakeWeChat()
    fake.register_app("wx123", "secret")
    app = create_fake_wechat_app(fake)
"""

from wxmember.core.fake_wechat.app import FAKE_WECHAT_KEY, create_fake_wechat_app
from wxmember.core.fake_wechat.state import FakeAPIError, FakeWeChat, SentMessage
from wxmember.core.fake_wechat.values import value_ok

__all__ = [
    "FAKE_WECHAT_KEY",
    "FakeAPIError",
    "FakeWeChat",
    "SentMessage",
    "create_fake_wechat_app",
    "value_ok",
]
