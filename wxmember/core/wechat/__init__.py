"""Outbound WeChat server API: the async client and its typed errors."""

from wxmember.core.wechat.client import WeChatClient
from wxmember.core.wechat.errors import (
    ERROR_CLASSES,
    NETWORK_ERRCODE,
    TOKEN_REFRESH_ERRCODES,
    WeChatBusy,
    WeChatCodeError,
    WeChatConfigError,
    WeChatConsentError,
    WeChatError,
    WeChatInvalidArgument,
    WeChatNetworkError,
    WeChatRateLimited,
    WeChatRecipientUnavailable,
    WeChatSubscribeRefused,
    WeChatTokenError,
    error_for,
)

__all__ = [
    "ERROR_CLASSES",
    "NETWORK_ERRCODE",
    "TOKEN_REFRESH_ERRCODES",
    "WeChatBusy",
    "WeChatClient",
    "WeChatCodeError",
    "WeChatConfigError",
    "WeChatConsentError",
    "WeChatError",
    "WeChatInvalidArgument",
    "WeChatNetworkError",
    "WeChatRateLimited",
    "WeChatRecipientUnavailable",
    "WeChatSubscribeRefused",
    "WeChatTokenError",
    "error_for",
]
